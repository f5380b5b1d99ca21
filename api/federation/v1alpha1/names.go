package v1alpha1

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The checkers below are allocation-free, byte-wise versions of
// apimachinery's regular expressions for names and labels. They only ever
// accept: when one says invalid, the caller asks apimachinery, which
// decides and words the error, so a checker that is too strict costs time,
// never a different verdict or message. One that is too lenient would
// accept what apimachinery refuses; FuzzNameCheckers holds them to
// apimachinery's verdict.

const (
	dns1123LabelMaxLength     = 63  // validation.DNS1123LabelMaxLength
	dns1123SubdomainMaxLength = 253 // validation.DNS1123SubdomainMaxLength
	labelMaxLength            = 63  // validation.LabelValueMaxLength, and a label key's name part
)

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }

// isRFC1123Label reports whether s matches [a-z0-9]([-a-z0-9]*[a-z0-9])?,
// of any length.
func isRFC1123Label(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// isDNS1123Label is validation.IsDNS1123Label as a verdict.
func isDNS1123Label(s string) bool {
	return len(s) <= dns1123LabelMaxLength && isRFC1123Label(s)
}

// isDNS1123Subdomain is validation.IsDNS1123Subdomain as a verdict:
// dot-separated RFC 1123 labels, at most 253 bytes in all.
func isDNS1123Subdomain(s string) bool {
	if s == "" || len(s) > dns1123SubdomainMaxLength {
		return false
	}
	for {
		label, rest, more := strings.Cut(s, ".")
		if !isRFC1123Label(label) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// isLabelName reports whether s is a label key's name part, which is also
// what a non-empty label value must be: at most 63 alphanumerics, '-', '_'
// or '.', starting and ending with an alphanumeric.
func isLabelName(s string) bool {
	if s == "" || len(s) > labelMaxLength || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isQualifiedName is validation.IsQualifiedName as a verdict: a label
// name with an optional DNS-1123 subdomain prefix and '/'.
func isQualifiedName(s string) bool {
	prefix, name, prefixed := strings.Cut(s, "/")
	if !prefixed {
		return isLabelName(s)
	}
	return isDNS1123Subdomain(prefix) && isLabelName(name)
}

// isLabelValue is validation.IsValidLabelValue as a verdict.
func isLabelValue(s string) bool { return s == "" || isLabelName(s) }

// dns1123LabelErrors is validation.IsDNS1123Label without its regular
// expressions on the common, valid path.
func dns1123LabelErrors(s string) []string {
	if isDNS1123Label(s) {
		return nil
	}
	return validation.IsDNS1123Label(s)
}

// qualifiedNameErrors is validation.IsQualifiedName without its regular
// expressions on the common, valid path.
func qualifiedNameErrors(s string) []string {
	if isQualifiedName(s) {
		return nil
	}
	return validation.IsQualifiedName(s)
}

// labelValueErrors is validation.IsValidLabelValue without its regular
// expressions on the common, valid path.
func labelValueErrors(s string) []string {
	if isLabelValue(s) {
		return nil
	}
	return validation.IsValidLabelValue(s)
}
