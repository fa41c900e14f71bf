package figures

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Size limits for rendering, in pixels.
const (
	// MinSide is the smallest width or height a figure renders at.
	MinSide = 32
	// MaxSide is the largest width or height a figure renders at; it bounds
	// the memory a PNG render takes (MaxSide² × 4 bytes).
	MaxSide = 4096
)

// dpi is the resolution that turns points (the unit of gonum/plot) into
// pixels, for PNG and SVG alike: CSS's 96 pixels per inch, so a PNG and an
// SVG of the same pixel size look the same in a browser.
const dpi = 96

// pxToPt converts a length in pixels to gonum/plot points.
func pxToPt(px int) vg.Length { return vg.Length(px) * 72 / dpi }

// ErrInvalid is matched, through errors.Is, by every error that a
// constructor or a render method returns for bad input: ragged or empty
// matrices, label counts that do not match, non-finite ranges, sizes out of
// bounds. A server can map it to a 4xx answer.
var ErrInvalid = errors.New("figures: invalid input")

// inputError is an error about input, matching ErrInvalid.
type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalid }

// invalidf returns an inputError whose message is prefixed by the package.
func invalidf(format string, a ...any) error {
	return &inputError{msg: "figures: " + fmt.Sprintf(format, a...)}
}

// Figure is a picture ready to be rendered, at any size, to PNG or SVG.
//
// A Figure holds its own copy of the data it was built from, so the caller
// may reuse its slices; it is immutable and safe for concurrent use, and
// each render lays the picture out afresh for the requested size. Text uses
// the Liberation Sans font embedded in gonum/plot: rendering reads no system
// fonts and touches no network.
type Figure struct {
	defW, defH int               // default size in pixels
	draw       func(draw.Canvas) // draws the whole picture into the canvas
}

// Size returns the figure's default width and height in pixels, used by the
// render methods when they are given zero sizes.
func (f *Figure) Size() (widthPx, heightPx int) { return f.defW, f.defH }

// size resolves a requested size: zero takes the default, anything else
// must lie in [MinSide, MaxSide].
func (f *Figure) size(w, h int) (int, int, error) {
	if w == 0 {
		w = f.defW
	}
	if h == 0 {
		h = f.defH
	}
	if w < MinSide || w > MaxSide || h < MinSide || h > MaxSide {
		return 0, 0, invalidf("size %d×%d px: want each side in [%d, %d], or 0 for the default", w, h, MinSide, MaxSide)
	}
	return w, h, nil
}

// PNG renders the figure as a PNG image of exactly widthPx × heightPx
// pixels and writes it to w. A zero width or height takes the figure's
// default (see Size); other sizes must lie in [MinSide, MaxSide].
func (f *Figure) PNG(w io.Writer, widthPx, heightPx int) error {
	img, err := f.Image(widthPx, heightPx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	// Figures are mostly flat colour, which the fastest level compresses
	// nearly as well as the default, in less than half the time.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(bw, img); err != nil {
		return fmt.Errorf("figures: png: %w", err)
	}
	return bw.Flush()
}

// Image renders the figure to an in-memory RGBA image of widthPx × heightPx
// pixels, with the same size rules as PNG.
func (f *Figure) Image(widthPx, heightPx int) (*image.RGBA, error) {
	wpx, hpx, err := f.size(widthPx, heightPx)
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, wpx, hpx))
	c := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(dpi)) // white background
	f.draw(draw.New(c))
	// vgimg draws into its own copy of img.
	out, ok := c.Image().(*image.RGBA)
	if !ok {
		return nil, fmt.Errorf("figures: png: unexpected image type %T", c.Image())
	}
	return out, nil
}

// SVG renders the figure as an SVG document of widthPx × heightPx CSS pixels
// and writes it to w, with the same size rules as PNG. Text refers to the
// font family "Liberation Sans" with Arial and sans-serif as fall-backs
// (Liberation Sans is metrically compatible with Arial); fonts are not
// embedded.
func (f *Figure) SVG(w io.Writer, widthPx, heightPx int) error {
	wpx, hpx, err := f.size(widthPx, heightPx)
	if err != nil {
		return err
	}
	c := vgsvg.New(pxToPt(wpx), pxToPt(hpx))
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	f.draw(dc)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("figures: svg: %w", err)
	}
	// Fall-back fonts for viewers without Liberation Sans, and the leading
	// spaces of tokens kept (SVG collapses them by default).
	out := bytes.ReplaceAll(buf.Bytes(),
		[]byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	out = bytes.Replace(out, []byte("<svg "), []byte(`<svg xml:space="preserve" `), 1)
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("figures: svg: %w", err)
	}
	return nil
}

// WritePNG renders the figure as PNG (see PNG) to the file at path,
// atomically: the file appears complete or not at all.
func (f *Figure) WritePNG(path string, widthPx, heightPx int) error {
	return writeAtomic(path, func(w io.Writer) error { return f.PNG(w, widthPx, heightPx) })
}

// WriteSVG renders the figure as SVG (see SVG) to the file at path,
// atomically: the file appears complete or not at all.
func (f *Figure) WriteSVG(path string, widthPx, heightPx int) error {
	return writeAtomic(path, func(w io.Writer) error { return f.SVG(w, widthPx, heightPx) })
}

// writeAtomic writes a temporary file beside path with write, syncs it and
// renames it over path.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	return nil
}
