package web

import (
	"bytes"
	"embed"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/go-chi/chi/v5"
)

// assets holds the pages' templates, scripts and styles. Nothing in it
// refers to the network (TestNoExternalURLs).
//
//go:embed assets
var assets embed.FS

// page is one dashboard page.
type page struct {
	Path, Name, Title, Script string
	Intro                     string
}

// pages lists the dashboard's pages in navigation order.
var pages = []page{
	{"/attention", "attention", "Attention", "attention.js",
		"Every head's attention pattern on a token sequence. Hover a head to preview it, click to lock it; hover a cell for its value."},
	{"/circuits", "circuits", "Circuits", "circuits.js",
		"What the weights say: Q/K/V composition between heads against a random baseline, per-head scores, and the full OV and QK circuits."},
	{"/lens", "lens", "Lens", "lens.js",
		"What each layer's residual stream already predicts: the logit lens and a tuned lens, per position."},
	{"/patching", "patching", "Patching", "patching.js",
		"Activation patching: write each clean activation into the corrupted run and see how much of the clean behaviour returns."},
	{"/discovery", "discovery", "Discovery", "discovery.js",
		"Circuit discovery on edges: score every edge by EAP, EAP-IG or ACDC, see the circuit as a graph, click an edge for its exact patching effect, and the faithfulness curve."},
	{"/training", "training", "Training", "training.js",
		"Training curves of runs, live over server-sent events: loss, accuracy and per-head scores, with the induction phase change marked."},
	{"/cnn", "cnn", "CNN", "cnn.js",
		"A Fashion-MNIST classifier through the same hooks: feature maps per hook point, class probabilities, saliency and integrated gradients, BatchNorm statistics, unit ablation — click a channel to zero it and watch the prediction — and, as in Lucid and OpenAI Microscope, each unit's regularised activation maximisation, a gallery of a layer's units and their top-activating test images."},
	{"/gan", "gan", "GAN", "gan.js",
		"A small DCGAN trained on Fashion-MNIST: sample grids labelled by the classifier, linear and spherical latent walks between two samples, generator units to ablate (before and after), and, as in GAN Dissection, units ranked by how their maps overlap classes and garment regions."},
	{"/sweeps", "sweeps", "Sweeps", "sweeps.js",
		"Sweeps in the runs folder (workbench sweep plan): each task's state whichever backend ran it, and the distribution of the results across tasks."},
	{"/features", "features", "Features", "features.js",
		"Sparse-autoencoder features: search a dictionary's features by id or top token, open one's dashboard (top contexts, activation histogram, logit effects, similar features) and steer the model along its direction."},
}

// pageData is what the layout template sees.
type pageData struct {
	Page  page
	Pages []page
}

// pagesRoutes serves the pages, /static/ and the favicon.
func pagesRoutes(log *slog.Logger) chi.Router {
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		panic(err)
	}
	icon := favicon()
	r := chi.NewRouter()
	for _, p := range pages {
		// Each page is the layout with the page's "controls" and "main".
		tmpl := template.Must(template.ParseFS(assets, "assets/templates/layout.html", "assets/templates/"+p.Name+".html"))
		r.Get(p.Path, func(w http.ResponseWriter, r *http.Request) {
			var buf bytes.Buffer
			if err := tmpl.ExecuteTemplate(&buf, "layout", pageData{p, pages}); err != nil {
				log.Error("page template", "page", p.Name, "err", err)
				http.Error(w, "template error", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(buf.Bytes())
		})
	}
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		target := pages[0].Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	r.Handle("/static/*", http.StripPrefix("/static/", filesOnly(static)))
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "max-age=86400")
		w.Write(icon)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found: the dashboard's pages are /attention, /circuits, /lens, /patching, /discovery, /training, /cnn, /gan, /sweeps and /features", http.StatusNotFound)
	})
	return r
}

// filesOnly serves the files of fsys and answers 404 for directories,
// which http.FileServerFS would list.
func filesOnly(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "."
		}
		if st, err := fs.Stat(fsys, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// favicon draws the 16×16 icon: a lower-triangular attention pattern.
func favicon() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			c := color.RGBA{0xf4, 0xf4, 0xf6, 0xff}
			switch {
			case x == y-1 || (x == 0 && y == 0):
				c = color.RGBA{0x1d, 0x4e, 0xd8, 0xff}
			case x < y:
				c = color.RGBA{0xbf, 0xd3, 0xf6, 0xff}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}
