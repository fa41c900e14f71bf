// Package figures turns the numbers that Workbench's analysis packages return
// into pictures, rendered with gonum/plot to PNG and SVG: the dashboard's
// "download as PNG / SVG" and the notebooks' HTML reports. It is the only
// package that imports gonum/plot, and its API names no gonum/plot type.
//
// Each constructor takes a plain spec, validates it and returns a *Figure:
//
//	Heatmap           matrix [rows][cols] with token labels, rows top to bottom,
//	                  colour bar, masked cells, optional cell text
//	AttentionPattern  one head's pattern [query_pos, key_pos], upper triangle grey
//	Curves            named series (x, y), log axes, labelled vertical and
//	                  horizontal markers (the phase-change step, a baseline)
//	Bars              grouped bars per category (per-head scores)
//	Scatter           point sets with glyphs, equal axes (GAN samples vs
//	                  mixture modes, superposition feature geometry)
//	ImageGrid         images [channel, height, width] in a grid (feature maps,
//	                  GAN samples)
//
// A Figure renders at any size with PNG, SVG, Image, WritePNG and WriteSVG;
// sizes are in pixels at 96 dpi, so a PNG and an SVG of the same size look
// the same in a browser, and a zero size takes the figure's default.
//
// Conventions:
//   - Matrices are drawn as they are printed: row 0 at the top, column 0 at
//     the left. Images are [channel, height, width], row 0 at the top.
//   - Colour maps are Sequential (white to blue: patterns, probabilities),
//     Diverging (blue, white at 0, red: patching, attribution) and Grey.
//   - NaN cells and pixels are grey; NaN points are left out of curves and
//     scatter plots, and so are non-positive ones on log axes.
//   - Labels are cleaned: control characters in tokens show as escapes (\n)
//     and long labels are cut, so any token list is safe to draw.
//
// Errors: constructors and render methods never panic on data from outside
// the process; bad input (ragged or empty matrices, label counts that do
// not match, non-finite ranges, sizes out of bounds) returns an error
// matching ErrInvalid.
//
// Fonts: text is set in Liberation Sans, which gonum/plot embeds; rendering
// reads no system fonts and touches no network. SVGs name the font with
// Arial and sans-serif as fall-backs rather than embed it.
//
// Concurrency: a Figure copies its input when it is built and is immutable;
// it is safe to render concurrently.
package figures
