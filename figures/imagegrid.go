package figures

import (
	"image/color"
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Image grid limits.
const (
	// MaxImages bounds the number of images in a grid.
	MaxImages = 4096
	// MaxImagePixels bounds Channels × Height × Width of one image, and
	// 4 × MaxImagePixels bounds the values of all the images.
	MaxImagePixels = 1 << 22
)

// ImageGridSpec describes a grid of small images: CNN feature maps, GAN
// samples, Fashion-MNIST examples.
type ImageGridSpec struct {
	Title string
	// Images are laid out left to right, top to bottom; each holds
	// Channels × Height × Width values in [channel, height, width] order,
	// the layout of our tensors. NaN pixels are drawn grey.
	Images [][]float32
	// Channels is 1 (0 means 1), drawn with ColorMap, or 3, drawn as RGB.
	Channels, Height, Width int
	// Cols is the number of images per row; 0 makes the grid about square.
	Cols int
	// Labels, nil or one per image, are written under the images.
	Labels []string
	// ColorMap colours one-channel images; Auto means Grey.
	ColorMap ColorMap
	// Range is mapped to the ends of the colour map (to 0 and 1 per RGB
	// channel); the zero Range takes it from all the images, or from each
	// image alone when PerImage is set.
	Range    Range
	PerImage bool
}

// imageGrid is a validated copy of an ImageGridSpec.
type imageGrid struct {
	title      string
	c, h, w    int
	images     [][]float32
	labels     []string
	rows, cols int
	scales     []scale // one per image (shared scales are repeated)
}

// ImageGrid validates s and returns its figure. It returns an error
// matching ErrInvalid when there are no images or more than MaxImages, an
// image's length is not Channels × Height × Width, the channel count is not
// 1 or 3, the sizes are out of bounds, the label count does not match, or
// the range is invalid (or set together with PerImage).
func ImageGrid(s ImageGridSpec) (*Figure, error) {
	g, err := newImageGrid(s)
	if err != nil {
		return nil, err
	}
	tile := clampSize(4*max(g.w, g.h), 48, 128)
	tileH := tile * g.h / max(g.w, g.h)
	tileW := tile * g.w / max(g.w, g.h)
	labelH := 0
	if g.labels != nil {
		labelH = 16
	}
	return &Figure{
		defW: clampSize(g.cols*(tileW+6)+24, 160, 2400),
		defH: clampSize(g.rows*(tileH+6+labelH)+48, 120, 2400),
		draw: g.draw,
	}, nil
}

// newImageGrid validates s and copies it.
func newImageGrid(s ImageGridSpec) (*imageGrid, error) {
	n := len(s.Images)
	if n == 0 || n > MaxImages {
		return nil, invalidf("image grid: %d images, want 1 to %d", n, MaxImages)
	}
	ch := s.Channels
	if ch == 0 {
		ch = 1
	}
	if ch != 1 && ch != 3 {
		return nil, invalidf("image grid: %d channels, want 1 or 3", s.Channels)
	}
	if s.Height < 1 || s.Width < 1 || s.Height > MaxImagePixels/s.Width/ch {
		return nil, invalidf("image grid: image size %d×%d×%d, want positive sides and at most %d values", ch, s.Height, s.Width, MaxImagePixels)
	}
	if s.Cols < 0 || s.Cols > n {
		return nil, invalidf("image grid: %d columns for %d images", s.Cols, n)
	}
	if s.ColorMap < Auto || s.ColorMap > Grey {
		return nil, invalidf("image grid: unknown %v", s.ColorMap)
	}
	if s.PerImage && !s.Range.isZero() {
		return nil, invalidf("image grid: PerImage with an explicit range")
	}
	g := &imageGrid{title: s.Title, c: ch, h: s.Height, w: s.Width, cols: s.Cols}
	want := ch * s.Height * s.Width
	if n > 4*MaxImagePixels/want {
		return nil, invalidf("image grid: %d images of %d values, want at most %d values in all", n, want, 4*MaxImagePixels)
	}
	for i, im := range s.Images {
		if len(im) != want {
			return nil, invalidf("image grid: image %d has %d values, want %d×%d×%d = %d", i, len(im), ch, s.Height, s.Width, want)
		}
		g.images = append(g.images, append([]float32(nil), im...))
	}
	var err error
	if g.labels, err = copyLabels("image grid: labels", s.Labels, n); err != nil {
		return nil, err
	}
	if g.cols == 0 {
		g.cols = int(math.Ceil(math.Sqrt(float64(n))))
	}
	g.rows = (n + g.cols - 1) / g.cols

	cm := s.ColorMap
	if cm == Auto {
		cm = Grey
	}
	all := func(ims [][]float32) func(func(float64) bool) {
		return func(yield func(float64) bool) {
			for _, im := range ims {
				for _, v := range im {
					if !yield(float64(v)) {
						return
					}
				}
			}
		}
	}
	if s.PerImage {
		for i := range g.images {
			sc, err := newScale(cm, Range{}, all(g.images[i:i+1]))
			if err != nil {
				return nil, err
			}
			g.scales = append(g.scales, sc)
		}
		return g, nil
	}
	sc, err := newScale(cm, s.Range, all(g.images))
	if err != nil {
		return nil, err
	}
	for range g.images {
		g.scales = append(g.scales, sc)
	}
	return g, nil
}

// pixel returns the colour of pixel (x, y) of image i.
func (g *imageGrid) pixel(i, x, y int) color.NRGBA {
	im, sc := g.images[i], g.scales[i]
	plane := g.h * g.w
	off := y*g.w + x
	if g.c == 1 {
		return sc.color(float64(im[off]))
	}
	var rgb [3]uint8
	for ch := range rgb {
		v := float64(im[ch*plane+off])
		if math.IsNaN(v) {
			return maskColor
		}
		rgb[ch] = uint8(math.Round(255 * max(0, min(1, (v-sc.lo)/(sc.hi-sc.lo)))))
	}
	return color.NRGBA{R: rgb[0], G: rgb[1], B: rgb[2], A: 0xff}
}

// draw lays the images out in c under the title, each as large as fits
// with its aspect ratio kept, the grid centred.
func (g *imageGrid) draw(c draw.Canvas) {
	const gap = vg.Length(4)
	area := c.Rectangle
	area.Min.X += gap
	area.Max.X -= gap
	area.Min.Y += gap
	area.Max.Y -= gap
	if title := cleanText(g.title); title != "" {
		sty := textStyle(titleSize, color.Black)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		drawLabel(c, sty, vg.Point{X: (area.Min.X + area.Max.X) / 2, Y: area.Max.Y}, title)
		area.Max.Y -= sty.Height(title) + 6
	}

	// Labels are written at one size, the largest up to tickSize at which
	// the widest fits under its image.
	labelSty := textStyle(tickSize, color.Black)
	labelSty.XAlign, labelSty.YAlign = draw.XCenter, draw.YTop
	var labelH vg.Length
	if g.labels != nil {
		labelH = labelSty.Height("Mg") + 2
	}
	cols, rows := vg.Length(g.cols), vg.Length(g.rows)
	tileW := (area.Size().X - (cols-1)*gap) / cols
	tileH := (area.Size().Y-(rows-1)*gap)/rows - labelH
	if aspect := vg.Length(g.h) / vg.Length(g.w); tileW*aspect > tileH {
		tileW = tileH / aspect
	} else {
		tileH = tileW * aspect
	}
	if tileW <= 0 || tileH <= 0 {
		return
	}
	if g.labels != nil {
		var widest vg.Length
		for _, l := range g.labels {
			widest = max(widest, labelSty.Width(l))
		}
		if widest > tileW+gap {
			labelSty.Font.Size = max(minTextSize, tickSize*(tileW+gap)/widest)
		}
	}
	gridW := cols*tileW + (cols-1)*gap
	gridH := rows*(tileH+labelH) + (rows-1)*gap
	left := (area.Min.X + area.Max.X - gridW) / 2
	top := (area.Min.Y + area.Max.Y + gridH) / 2

	for i := range g.images {
		r, col := i/g.cols, i%g.cols
		x0 := left + vg.Length(col)*(tileW+gap)
		y1 := top - vg.Length(r)*(tileH+labelH+gap)
		rect := vg.Rectangle{Min: vg.Point{X: x0, Y: y1 - tileH}, Max: vg.Point{X: x0 + tileW, Y: y1}}
		drawRaster(c, rect, g.w, g.h, func(x, y int) color.NRGBA { return g.pixel(i, x, y) })
		if g.labels != nil {
			drawLabel(c, labelSty, vg.Point{X: x0 + tileW/2, Y: y1 - tileH - 1}, g.labels[i])
		}
	}
}
