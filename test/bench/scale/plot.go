package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// The chart: three panels side by side, each a metric against the number
// of executions (log scale) at 1,000 clusters: submit-to-assigned p99 (ms),
// memory (MiB: RSS blue, live heap green, live heap after archiving
// orange) and snapshot time (s: blue hot, orange after archiving); the
// grey line is the target. The standard library draws no text, so the
// labels are in BENCHMARKS.md.

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{40, 40, 40, 255}
	grey   = color.RGBA{180, 180, 180, 255}
	blue   = color.RGBA{31, 119, 180, 255}
	orange = color.RGBA{255, 127, 14, 255}
	green  = color.RGBA{44, 160, 44, 255}
)

const panelW, panelH, margin = 300, 240, 30

type series struct {
	c   color.RGBA
	pts [][2]float64 // x (executions), y
}

func writePNG(path string, results []*result) error {
	var xs []*result
	for _, r := range results {
		if r.Clusters == 1000 {
			xs = append(xs, r)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, 3*panelW, panelH))
	for y := range panelH {
		for x := range 3 * panelW {
			img.Set(x, y, white)
		}
	}
	pick := func(f func(*result) float64) [][2]float64 {
		var p [][2]float64
		for _, r := range xs {
			p = append(p, [2]float64{float64(r.Executions), f(r)})
		}
		return p
	}
	panels := []struct {
		s      []series
		target float64
	}{
		{[]series{{blue, pick(func(r *result) float64 { return r.AssignP99Ms })}}, targetAssignP99Ms},
		{[]series{{blue, pick(func(r *result) float64 { return r.RSSMB })}, {green, pick(func(r *result) float64 { return r.HeapMB })}, {orange, pick(func(r *result) float64 { return r.HeapAfterMB })}}, targetRSSMB},
		{[]series{{blue, pick(func(r *result) float64 { return r.SnapshotSec })}, {orange, pick(func(r *result) float64 { return r.SnapAfterSec })}}, targetSnapshotSec},
	}
	for i, p := range panels {
		drawPanel(img, i*panelW, p.s, p.target)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("write chart: %w", err)
	}
	return f.Close()
}

// drawPanel draws axes, the target line and each series (x log10, y
// linear from 0 to the largest of the values and the target).
func drawPanel(img *image.RGBA, x0 int, ss []series, target float64) {
	left, right, top, bottom := x0+margin, x0+panelW-10, 10, panelH-margin
	ymax := target
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.pts {
			ymax = max(ymax, p[1])
			xmin, xmax = min(xmin, math.Log10(p[0])), max(xmax, math.Log10(p[0]))
		}
	}
	if xmax <= xmin {
		xmin, xmax = xmin-1, xmin+1
	}
	ymax *= 1.1
	px := func(x float64) int {
		return left + int(float64(right-left)*(math.Log10(x)-xmin)/(xmax-xmin))
	}
	py := func(y float64) int { return bottom - int(float64(bottom-top)*y/ymax) }
	line(img, left, bottom, right, bottom, black)
	line(img, left, bottom, left, top, black)
	for x := xmin; x <= xmax+1e-9; x++ { // a tick per decade
		tx := px(math.Pow(10, x))
		line(img, tx, bottom, tx, bottom+5, black)
	}
	ty := py(target)
	for x := left; x < right; x += 6 {
		line(img, x, ty, min(x+3, right), ty, grey)
	}
	for _, s := range ss {
		for i, p := range s.pts {
			x, y := px(p[0]), py(p[1])
			for dx := -2; dx <= 2; dx++ {
				for dy := -2; dy <= 2; dy++ {
					img.Set(x+dx, y+dy, s.c)
				}
			}
			if i > 0 {
				q := s.pts[i-1]
				line(img, px(q[0]), py(q[1]), x, y, s.c)
			}
		}
	}
}

// line draws with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
