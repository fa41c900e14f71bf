package figures

import (
	"image"
	"image/color"
	imgdraw "image/draw"
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// drawRaster fills the rectangle r of c with a cols × rows grid of cells,
// cell (col, row) coloured at(col, row), row 0 at the top.
//
// The grid is resampled, nearest neighbour, to an image of r's size in
// pixels at 96 dpi before it is drawn, so that cell edges stay sharp: in a
// PNG it is copied into the pixels, and in an SVG it is embedded at the
// size a browser shows it, so that its smoothing does not blur them.
func drawRaster(c draw.Canvas, r vg.Rectangle, cols, rows int, at func(col, row int) color.NRGBA) {
	pw := rasterPixels(r.Size().X)
	ph := rasterPixels(r.Size().Y)
	if pw == 0 || ph == 0 || cols <= 0 || rows <= 0 {
		return
	}
	img := image.NewNRGBA(image.Rect(0, 0, pw, ph))
	colOf := make([]int, pw)
	for x := range colOf {
		colOf[x] = x * cols / pw
	}
	for y := range ph {
		row := y * rows / ph
		line := img.Pix[y*img.Stride : y*img.Stride+4*pw]
		if y > 0 && (y-1)*rows/ph == row { // same cells as the line above
			copy(line, img.Pix[(y-1)*img.Stride:])
			continue
		}
		var k color.NRGBA
		for x, col := range colOf {
			if x == 0 || col != colOf[x-1] {
				k = at(col, row)
			}
			line[4*x], line[4*x+1], line[4*x+2], line[4*x+3] = k.R, k.G, k.B, k.A
		}
	}
	if dst, ok := rasterTarget(c.Canvas); ok {
		// Straight into the pixels, at the rectangle's rounded corner: the
		// back end's DrawImage would resample the image, bilinearly and
		// slowly, for a scale that is 1 already.
		hpx := dst.Bounds().Dy()
		at := image.Pt(int(math.Round(float64(r.Min.X.Dots(dpi)))), hpx-int(math.Round(float64(r.Max.Y.Dots(dpi)))))
		imgdraw.Draw(dst, img.Bounds().Add(at), img, image.Point{}, imgdraw.Src) // colours are opaque
		return
	}
	c.DrawImage(r, img)
}

// rasterTarget returns the image that c draws into when it is a PNG
// canvas, looking through the draw.Canvas wrappers that plot layout adds.
func rasterTarget(c vg.Canvas) (imgdraw.Image, bool) {
	for {
		switch v := c.(type) {
		case *vgimg.Canvas:
			dst, ok := v.Image().(imgdraw.Image)
			return dst, ok
		case draw.Canvas:
			c = v.Canvas
		case *draw.Canvas:
			c = v.Canvas
		default:
			return nil, false
		}
	}
}

// rasterPixels returns the number of pixels that a length spans at 96 dpi,
// bounded by MaxSide.
func rasterPixels(l vg.Length) int {
	if !(l > 0) {
		return 0
	}
	return min(MaxSide, max(1, int(math.Round(float64(l.Dots(dpi))))))
}
