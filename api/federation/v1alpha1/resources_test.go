package v1alpha1

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// referenceAmount is parseAmount without the cache.
func referenceAmount(name, v string, milli bool) (int64, error) {
	if v == "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", name, v, err)
	}
	if q.Sign() < 0 {
		return 0, fmt.Errorf("%s %q: must not be negative", name, v)
	}
	if milli {
		return q.MilliValue(), nil
	}
	return q.Value(), nil
}

// TestParseAmountCached checks that a quantity parses the same, value and
// error, on a miss and on the hits after it, in both units.
func TestParseAmountCached(t *testing.T) {
	for _, v := range []string{
		"", "0", "1", "500m", "0.5", "1.5", "2", "256Mi", "4Gi", "1G", "1e3", "1m", "1n", "100u",
		"-1", "-500m", "+1", "1Ki", "lots", "1Mb", " 1", "1 ", "9223372036854775807", "99999999999999999999",
		"0.0001", "1234567890123456789012345678901234567890",
	} {
		for _, milli := range []bool{true, false} {
			want, wantErr := referenceAmount("cpu", v, milli)
			for range 3 {
				got, err := parseAmount("cpu", v, milli)
				if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("parseAmount(%q, milli=%v) = %d, %v; want %d, %v", v, milli, got, err, want, wantErr)
				}
			}
		}
	}
}

// TestQuantityCacheBounded fills the cache with more distinct quantities
// than it holds, from several goroutines, and checks that it stays bounded
// and right.
func TestQuantityCacheBounded(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range quantityCacheMax {
				v := strconv.Itoa(g*quantityCacheMax+i) + "m"
				got, err := parseAmount("cpu", v, true)
				if want, _ := referenceAmount("cpu", v, true); err != nil || got != want {
					t.Errorf("parseAmount(%q) = %d, %v; want %d", v, got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	n := 0
	quantities.m.Range(func(any, any) bool { n++; return true })
	if n > quantityCacheMax+4 {
		t.Fatalf("cache holds %d quantities, want at most %d", n, quantityCacheMax+4)
	}
}
