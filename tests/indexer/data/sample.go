package shapes

import (
	"fmt"
	m "math"
)

const Pi = 3.14

var Count int

// Shape is a shape.
type Shape interface {
	Area() float64
}

type Rect struct {
	W, H float64
}

// Area returns the area.
func (r Rect) Area() float64 {
	return r.W * r.H
}

func NewRect(w, h float64) *Rect {
	fmt.Println(m.Sqrt(w))
	return &Rect{W: w, H: h}
}
