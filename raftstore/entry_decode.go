package raftstore

import (
	"bytes"
	"hash/maphash"
	"reflect"
	"time"
	"unsafe"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// A follower decodes every command of every log entry, and reflection
// (fastJSON into a decodedBatch) spent most of that on dispatch through
// decoders, field hashing, one allocation per command and skipping each
// workflow's JSON to find it in dagsByJSON. decodeEntryFast decodes the
// entries the batcher writes by hand instead, and declines the rest.
//
// The contract is one-sided: whenever decodeEntryFast returns ok, reflection
// decodes the same bytes to the same commands (the differential test and
// fuzz test in entry_decode_test.go hold it to that); whenever it is not
// sure, it returns ok=false and the caller decodes by reflection, which is
// the definition of an entry's meaning. So it accepts a narrow grammar:
//
//   - keys exactly as the struct tags spell them, each once (reflection
//     matches keys case-insensitively and by hash, and merges repeats);
//   - integers without fraction or exponent, no null where a value is
//     decoded by hand; strings with escapes are decoded by fastJSON;
//   - the payloads of commands other than submit and assign, and the
//     parts of a spec that are rare (selector expressions), are handed to
//     fastJSON whole, as the bytes of one complete value: decoding a value
//     on its own is decoding it in place, as long as the extent is right
//     and its nesting stays far from jsoniter's depth limit;
//   - a workflow resolves through dagsByJSON exactly as workflowDecoder
//     does, on the same bytes (from just after the colon, whitespace
//     included), and a cache miss is handed to fastJSON;
//   - a selector resolves through selectorsByJSON to the pool's copy when
//     that copy is exactly the decoded selector.
//
// Nothing here reports why it declined: the reflective decode and the
// per-command slow path own every error message.

// maxHandedDepth bounds the nesting of a value handed to fastJSON on its
// own: in place it sits a few levels deeper, and jsoniter refuses past
// 10000.
const maxHandedDepth = 512

// decodeEntryFast decodes a batch envelope's JSON into its commands, as
// fastJSON.Unmarshal into a decodedBatch would; ok is false when it
// declines (see above), and also when the version is not batchVersion.
func decodeEntryFast(data []byte) (cmds []Command, ok bool) {
	d := entryDecoder{b: data}
	cmds, ok = d.entry()
	if !ok {
		return nil, false
	}
	return cmds, true
}

// Slots of entryDecoder.recent: the strings of one field in consecutive
// commands are mostly the same (a batch is one workflow submitted over and
// over), and decoding one costs an allocation that a comparison saves.
const (
	slotName = iota
	slotBreaker
	slotProject
	slotDomain
	slotTier
	slotCluster
	slotKeyProject
	slotKeyDomain
	// slotMaps is where the keys and values of string maps start: a pair
	// of slots for each of the first mapSlots entries of each map field.
	slotMaps
	mapSlots = 4
)

// Map fields, for their slots.
const (
	mapSelector = iota
	mapPreferred
	mapInputs
	nMaps
)

const nSlots = slotMaps + nMaps*mapSlots*2

// entryDecoder is one decode of an entry: a cursor over its bytes and what
// consecutive commands share.
type entryDecoder struct {
	b []byte
	i int

	recent [nSlots]string
	// lastAt and lastDeadline are a time field's last JSON and value.
	lastAt, lastDeadline timeMemo
	// wfRaw is the last workflow's JSON that resolved to the pool's DAG
	// wfNodes. It was a complete value then, so input that starts with
	// it holds that value and no other: it resolves alike, unscanned.
	wfRaw   []byte
	wfNodes []v1.TaskNode
	// selRaw and selShared are the same for the last selector.
	selRaw    []byte
	selShared *v1.LabelSelector

	// submits and assigns are the payloads of the entry's commands, in
	// arrays shared by the commands (one allocation for many).
	submits []SubmitCmd
	assigns []AssignCmd
	// cmdsAt is where the commands start and cmdsDone how many are done.
	cmdsAt, cmdsDone int
}

type timeMemo struct {
	raw []byte
	t   time.Time
}

// entry decodes {"v":1,"cmds":[...]} and requires nothing but whitespace
// after it.
func (d *entryDecoder) entry() ([]Command, bool) {
	if !d.eat('{') {
		return nil, false
	}
	var version int
	var cmds []Command
	var haveV, haveCmds bool
	for {
		k, ok := d.key()
		if !ok {
			return nil, false
		}
		switch string(k) {
		case "v":
			if haveV {
				return nil, false
			}
			haveV = true
			version, ok = d.int()
		case "cmds":
			if haveCmds {
				return nil, false
			}
			haveCmds = true
			cmds, ok = d.commands()
		default:
			return nil, false
		}
		if !ok {
			return nil, false
		}
		if d.eat(',') {
			continue
		}
		if !d.eat('}') {
			return nil, false
		}
		break
	}
	d.ws()
	if d.i != len(d.b) || !haveV || !haveCmds || version != batchVersion {
		return nil, false
	}
	return cmds, true
}

// commands decodes a non-empty array of commands.
func (d *entryDecoder) commands() ([]Command, bool) {
	if !d.eat('[') || d.peek() == ']' {
		return nil, false
	}
	var cmds []Command
	d.cmdsAt = d.i
	for {
		if cmds == nil {
			var first Command
			if !d.command(&first) {
				return nil, false
			}
			d.cmdsDone = 1
			cmds = make([]Command, 1, 1+d.expect())
			cmds[0] = first
		} else {
			cmds = append(cmds, Command{})
			if !d.command(&cmds[len(cmds)-1]) {
				return nil, false
			}
			d.cmdsDone++
		}
		if d.eat(',') {
			continue
		}
		if !d.eat(']') {
			return nil, false
		}
		return cmds, true
	}
}

// Bits of the Command fields seen, to refuse a repeated key.
const (
	fV = 1 << iota
	fT
	fAt
	fSubmit
	fKey
	fAssign
	fReport
	fRequeue
	fCluster
	fName
	fPatch
	fDeadline
	fHeartbeat
	fHealthy
	fBreaker
	fMember
	fCacheClaim
	fCachePut
	fCacheEvict
	fArchive
)

func (d *entryDecoder) command(c *Command) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	var seen uint32
	for {
		k, ok := d.key()
		if !ok {
			return false
		}
		var f uint32
		switch string(k) {
		case "v":
			f = fV
			c.Version, ok = d.int()
		case "t":
			f = fT
			c.Type, ok = d.commandType()
		case "at":
			f = fAt
			ok = d.time(&c.At, &d.lastAt)
		case "submit":
			f = fSubmit
			ok = d.submit(c)
		case "assign":
			f = fAssign
			ok = d.assign(c)
		case "name":
			f = fName
			c.Name, ok = d.str(slotName)
		case "deadline":
			f = fDeadline
			ok = d.time(&c.Deadline, &d.lastDeadline)
		case "healthy":
			f = fHealthy
			c.Healthy, ok = d.bool()
		case "breaker":
			f = fBreaker
			c.Breaker, ok = d.str(slotBreaker)
		case "key":
			f = fKey
			ok = d.hand(&c.Key)
		case "report":
			f = fReport
			ok = d.hand(&c.Report)
		case "requeue":
			f = fRequeue
			ok = d.hand(&c.Requeue)
		case "cluster":
			f = fCluster
			ok = d.hand(&c.Cluster)
		case "patch":
			f = fPatch
			ok = d.hand(&c.Patch)
		case "heartbeat":
			f = fHeartbeat
			ok = d.hand(&c.Heartbeat)
		case "member":
			f = fMember
			ok = d.hand(&c.Member)
		case "cacheClaim":
			f = fCacheClaim
			ok = d.hand(&c.CacheClaim)
		case "cachePut":
			f = fCachePut
			ok = d.hand(&c.CachePut)
		case "cacheEvict":
			f = fCacheEvict
			ok = d.hand(&c.CacheEvict)
		case "archive":
			f = fArchive
			ok = d.hand(&c.Archive)
		default:
			return false
		}
		if !ok || seen&f != 0 {
			return false
		}
		seen |= f
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

// commandTypes are the known types, so that decoding one allocates nothing.
var commandTypes = func() map[string]CommandType {
	m := map[string]CommandType{}
	for _, t := range []CommandType{CmdSubmit, CmdCancel, CmdAssign, CmdReport, CmdRequeue,
		CmdRegisterCluster, CmdUpdateCluster, CmdRemoveCluster, CmdCordon, CmdUncordon, CmdDrain,
		CmdHeartbeat, CmdSetHealth, CmdSetBreaker, CmdSetMember, CmdRemoveMember,
		CmdCacheClaim, CmdCachePut, CmdCacheEvict, CmdArchive} {
		m[string(t)] = t
	}
	return m
}()

func (d *entryDecoder) commandType() (CommandType, bool) {
	d.ws()
	start := d.i
	b, ok := d.rawString()
	if !ok {
		d.i = start
		t, ok := d.escapedString()
		return CommandType(t), ok
	}
	if t, ok := commandTypes[string(b)]; ok {
		return t, true
	}
	return CommandType(b), true
}

// submit decodes a SubmitCmd {"spec":...,"hash":...}.
func (d *entryDecoder) submit(c *Command) bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	sub := d.newSubmit()
	c.Submit = sub
	if d.eat('}') {
		return true
	}
	var haveSpec, haveHash bool
	for {
		k, ok := d.key()
		if !ok {
			return false
		}
		switch string(k) {
		case "spec":
			if haveSpec {
				return false
			}
			haveSpec = true
			ok = d.spec(&sub.Spec)
		case "hash":
			if haveHash {
				return false
			}
			haveHash = true
			sub.Hash, ok = d.string()
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

// Bits of the ExecutionSpec fields seen.
const (
	sProject = 1 << iota
	sDomain
	sName
	sTier
	sSelector
	sPreferred
	sInputs
	sWorkflow
	sMaxAttempts
)

func (d *entryDecoder) spec(s *v1.ExecutionSpec) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	var seen uint32
	for {
		k, ok := d.key()
		if !ok {
			return false
		}
		var f uint32
		switch string(k) {
		case "project":
			f = sProject
			s.Project, ok = d.str(slotProject)
		case "domain":
			f = sDomain
			s.Domain, ok = d.str(slotDomain)
		case "name":
			f = sName
			s.Name, ok = d.string()
		case "tier":
			f = sTier
			var t string
			t, ok = d.str(slotTier)
			s.Tier = v1.Tier(t)
		case "clusterSelector":
			f = sSelector
			s.ClusterSelector, ok = d.selector()
		case "preferredLabels":
			f = sPreferred
			s.PreferredLabels, ok = d.strMap(mapPreferred)
		case "inputs":
			f = sInputs
			s.Inputs, ok = d.strMap(mapInputs)
		case "workflow":
			f = sWorkflow
			ok = d.workflow(&s.Workflow)
		case "maxAttempts":
			f = sMaxAttempts
			s.MaxAttempts, ok = d.int()
		default:
			return false
		}
		if !ok || seen&f != 0 {
			return false
		}
		seen |= f
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

// selector decodes a LabelSelector as the pool's copy when that copy is
// exactly what its JSON decodes to, as workflow does for DAGs: a batch
// holds the same selector over and over, and decoding it only for
// sharePool to swap it for the pool's was a map and a hash each time.
// The JSON runs from just after the colon, as a workflow's does.
func (d *entryDecoder) selector() (*v1.LabelSelector, bool) {
	start := d.i
	if d.selRaw != nil && bytes.HasPrefix(d.b[start:], d.selRaw) {
		d.i += len(d.selRaw)
		return d.selShared, true
	}
	if d.peek() != '{' {
		return nil, false
	}
	if _, ok := d.skipComposite(); !ok {
		return nil, false
	}
	raw := d.b[start:d.i]
	h := maphash.Bytes(selectorsByJSON.seed, raw)
	if s, ok := selectorsByJSON.get(h, raw); ok {
		d.selRaw, d.selShared = raw, &s[0]
		return &s[0], true
	}
	d.i = start
	sel, ok := d.parseSelector()
	if !ok || d.i != start+len(raw) {
		return nil, false
	}
	shared := pool.selector(sel, false)
	if shared != sel && !reflect.DeepEqual(shared, sel) {
		// Equal for the pool, not for a decoder (an empty map where the
		// pool's copy has none): the fresh one is the decoding.
		return sel, true
	}
	selectorsByJSON.put(h, raw, unsafe.Slice(shared, 1))
	d.selRaw, d.selShared = raw, shared
	return shared, true
}

// parseSelector decodes a LabelSelector object; its expressions go to
// fastJSON.
func (d *entryDecoder) parseSelector() (*v1.LabelSelector, bool) {
	if d.peek() != '{' {
		return nil, false
	}
	d.i++
	sel := new(v1.LabelSelector)
	if d.eat('}') {
		return sel, true
	}
	var haveLabels, haveExprs bool
	for {
		k, ok := d.key()
		if !ok {
			return nil, false
		}
		switch string(k) {
		case "matchLabels":
			if haveLabels {
				return nil, false
			}
			haveLabels = true
			sel.MatchLabels, ok = d.strMap(mapSelector)
		case "matchExpressions":
			if haveExprs {
				return nil, false
			}
			haveExprs = true
			ok = d.hand(&sel.MatchExpressions)
		default:
			return nil, false
		}
		if !ok {
			return nil, false
		}
		if d.eat(',') {
			continue
		}
		if !d.eat('}') {
			return nil, false
		}
		return sel, true
	}
}

// strMap decodes a map[string]string object (never null). A repeated key
// keeps its last value, as reflection's map decoder does.
func (d *entryDecoder) strMap(field int) (map[string]string, bool) {
	if !d.eat('{') {
		return nil, false
	}
	m := map[string]string{}
	if d.eat('}') {
		return m, true
	}
	for n := 0; ; n++ {
		slot := slotMaps + (field*mapSlots+min(n, mapSlots-1))*2
		k, ok := d.str(slot)
		if !ok || !d.eat(':') {
			return nil, false
		}
		v, ok := d.str(slot + 1)
		if !ok {
			return nil, false
		}
		m[k] = v
		if d.eat(',') {
			continue
		}
		if !d.eat('}') {
			return nil, false
		}
		return m, true
	}
}

// workflow resolves a workflow's JSON as workflowDecoder does: its bytes
// from just after the colon to the end of the value name the pool's DAG
// in dagsByJSON, or fastJSON decodes them (through workflowDecoder, which
// skips the same bytes: the leading whitespace is where it starts too).
func (d *entryDecoder) workflow(w *v1.WorkflowSpec) bool {
	start := d.i
	if d.wfRaw != nil && bytes.HasPrefix(d.b[start:], d.wfRaw) {
		d.i += len(d.wfRaw)
		w.Nodes = d.wfNodes
		return true
	}
	if d.peek() != '{' {
		return false
	}
	if depth, ok := d.skipComposite(); !ok || depth > maxHandedDepth {
		return false
	}
	raw := d.b[start:d.i]
	if nodes, ok := dagsByJSON.get(maphash.Bytes(dagsByJSON.seed, raw), raw); ok {
		w.Nodes = nodes
	} else if err := fastJSON.Unmarshal(raw, w); err != nil {
		return false
	}
	if len(w.Nodes) > 0 {
		// The pool's copy, from the cache or put there just now.
		d.wfRaw, d.wfNodes = raw, w.Nodes
	}
	return true
}

// assign decodes an AssignCmd {"key":{...},"cluster":...,"attempt":...}.
func (d *entryDecoder) assign(c *Command) bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	a := d.newAssign()
	c.Assign = a
	if d.eat('}') {
		return true
	}
	var haveKey, haveCluster, haveAttempt bool
	for {
		k, ok := d.key()
		if !ok {
			return false
		}
		switch string(k) {
		case "key":
			if haveKey {
				return false
			}
			haveKey = true
			ok = d.executionKey(&a.Key)
		case "cluster":
			if haveCluster {
				return false
			}
			haveCluster = true
			a.Cluster, ok = d.str(slotCluster)
		case "attempt":
			if haveAttempt {
				return false
			}
			haveAttempt = true
			a.Attempt, ok = d.int()
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

func (d *entryDecoder) executionKey(k *v1.ExecutionKey) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	var haveProject, haveDomain, haveName bool
	for {
		f, ok := d.key()
		if !ok {
			return false
		}
		switch string(f) {
		case "project":
			if haveProject {
				return false
			}
			haveProject = true
			k.Project, ok = d.str(slotKeyProject)
		case "domain":
			if haveDomain {
				return false
			}
			haveDomain = true
			k.Domain, ok = d.str(slotKeyDomain)
		case "name":
			if haveName {
				return false
			}
			haveName = true
			k.Name, ok = d.string()
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

// expect is how many more commands the entry likely holds, going by the
// size of those decoded so far (a batch is mostly more of the same), up to
// maxExpect: a short command before long ones must not allocate much.
func (d *entryDecoder) expect() int {
	if d.cmdsDone == 0 {
		return 0
	}
	return min((len(d.b)-d.i)*d.cmdsDone/max(d.i-d.cmdsAt, 1), maxExpect)
}

// maxExpect bounds expect; past it, arrays grow as appends do.
const maxExpect = 1024

// newSubmit returns a zero SubmitCmd from the entry's array of them.
func (d *entryDecoder) newSubmit() *SubmitCmd {
	if len(d.submits) == cap(d.submits) {
		d.submits = make([]SubmitCmd, 0, 1+d.expect())
	}
	d.submits = d.submits[:len(d.submits)+1]
	return &d.submits[len(d.submits)-1]
}

func (d *entryDecoder) newAssign() *AssignCmd {
	if len(d.assigns) == cap(d.assigns) {
		d.assigns = make([]AssignCmd, 0, 1+d.expect())
	}
	d.assigns = d.assigns[:len(d.assigns)+1]
	return &d.assigns[len(d.assigns)-1]
}

// hand decodes the object or array at the cursor into v, a pointer to a
// field that is still zero, by fastJSON: the same decoder reflection runs
// in place, on the same bytes.
func (d *entryDecoder) hand(v any) bool {
	if c := d.peek(); c != '{' && c != '[' {
		return false
	}
	start := d.i
	if depth, ok := d.skipComposite(); !ok || depth > maxHandedDepth {
		return false
	}
	return fastJSON.Unmarshal(d.b[start:d.i], v) == nil
}

// skipComposite moves the cursor, at '{' or '[', past the bracket that
// closes it, and returns the deepest nesting on the way. It validates
// nothing but the extent: whoever uses the bytes validates them (fastJSON),
// or knows them valid (dagsByJSON holds only what decoded).
func (d *entryDecoder) skipComposite() (maxDepth int, ok bool) {
	depth := 0
	b := d.b
	for i := d.i; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case '}', ']':
			depth--
			if depth == 0 {
				d.i = i + 1
				return maxDepth, true
			}
		}
	}
	return 0, false
}

// time decodes a time as reflection does, by time.Time's UnmarshalJSON on
// the string's bytes; memo remembers the field's last one.
func (d *entryDecoder) time(t *time.Time, memo *timeMemo) bool {
	raw, ok := d.stringToken()
	if !ok {
		return false
	}
	if memo.raw != nil && bytes.Equal(raw, memo.raw) {
		*t = memo.t
		return true
	}
	if err := t.UnmarshalJSON(raw); err != nil {
		return false
	}
	memo.raw, memo.t = raw, *t
	return true
}

// str decodes a string, the same as the slot's last one when it can.
func (d *entryDecoder) str(slot int) (string, bool) {
	d.ws()
	start := d.i
	b, ok := d.rawString()
	if !ok {
		d.i = start
		return d.escapedString()
	}
	if last := d.recent[slot]; string(b) == last {
		return last, true
	}
	s := string(b)
	d.recent[slot] = s
	return s, true
}

// string decodes a string.
func (d *entryDecoder) string() (string, bool) {
	d.ws()
	start := d.i
	b, ok := d.rawString()
	if !ok {
		d.i = start
		return d.escapedString()
	}
	return string(b), true
}

// escapedString decodes a string that rawString declines, one with
// escapes most likely, by fastJSON: jsoniter's rules for escapes (and
// for control characters, which it refuses only before the first
// escape) are its own.
func (d *entryDecoder) escapedString() (string, bool) {
	raw, ok := d.stringToken()
	if !ok {
		return "", false
	}
	var s string
	if err := fastJSON.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// stringToken returns a string token, quotes included: after a backslash
// the next byte never ends it, as jsoniter's Skip counts.
func (d *entryDecoder) stringToken() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	b := d.b
	for i := d.i + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			tok := b[d.i : i+1]
			d.i = i + 1
			return tok, true
		}
	}
	return nil, false
}

// rawString returns the bytes of a string without escapes or control
// characters, which decodes to exactly those bytes.
func (d *entryDecoder) rawString() ([]byte, bool) {
	if !d.eat('"') {
		return nil, false
	}
	b := d.b
	for i := d.i; i < len(b); i++ {
		if c := b[i]; stringStop[c] {
			if c != '"' {
				return nil, false
			}
			s := b[d.i:i]
			d.i = i + 1
			return s, true
		}
	}
	return nil, false
}

// stringStop marks the bytes that end rawString's scan: the closing quote,
// or what it declines (an escape or a control character).
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// key decodes an object key and its colon.
func (d *entryDecoder) key() ([]byte, bool) {
	k, ok := d.rawString()
	if !ok || !d.eat(':') {
		return nil, false
	}
	return k, true
}

// int decodes -?(0|[1-9][0-9]*) of at most 18 digits; what follows must
// then be a separator, which the caller checks, so a fraction or an
// exponent is refused.
func (d *entryDecoder) int() (int, bool) {
	d.ws()
	b := d.b
	i := d.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	n := 0
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	if digits := i - start; digits == 0 || digits > 18 || (digits > 1 && b[start] == '0') {
		return 0, false
	}
	d.i = i
	if neg {
		n = -n
	}
	return n, true
}

func (d *entryDecoder) bool() (bool, bool) {
	d.ws()
	switch {
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		return true, true
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		return false, true
	}
	return false, false
}

// ws skips what jsoniter counts as whitespace.
func (d *entryDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (d *entryDecoder) peek() byte {
	if d.i < len(d.b) && d.b[d.i] > ' ' {
		return d.b[d.i] // compact JSON, the usual case
	}
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// eat consumes c, after whitespace, when it is next.
func (d *entryDecoder) eat(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}
