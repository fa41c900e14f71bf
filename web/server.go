package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/mechinterp/workbench/data"
)

// Defaults of Deps' zero fields.
const (
	DefaultRunsDir        = "runs"
	DefaultKeepAlive      = 15 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
	DefaultBodyTimeout    = 10 * time.Second
	DefaultRunsBudget     = 4 << 30
	DefaultMaxStreams     = 64
)

// Deps are what the dashboard needs from the program that serves it. Zero
// fields take the defaults above.
type Deps struct {
	// RunsDir holds training runs: each subdirectory with a
	// model.safetensors is listed as a model, each with a metrics.jsonl as
	// a run; "Train one now" writes new runs here.
	RunsDir string
	// Logger receives failed requests, panics and training events (nil:
	// discarded).
	Logger *slog.Logger
	// KeepAlive is the interval of the comments that keep idle event
	// streams open through proxies and let clients notice a dead server.
	KeepAlive time.Duration
	// RequestTimeout bounds every request but event streams.
	RequestTimeout time.Duration
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// BodyTimeout bounds the time a client takes to send a request body
	// (408 beyond); the response has its own bound, RequestTimeout.
	BodyTimeout time.Duration
	// DataDir holds the Fashion-MNIST IDX files whose test set the CNN
	// page offers beside its embedded samples (default Debian's
	// data.FashionMNISTDir); without them only the samples are shown.
	DataDir string
	// AnalysisSlots bounds the analysis requests (models, runs, CNN and
	// GAN endpoints) computed at once; the others wait. The default,
	// GOMAXPROCS − 1 (at least 1), leaves a core to a training.
	AnalysisSlots int
	// MaxStreams bounds the event streams open at once (503 beyond).
	MaxStreams int
	// RunsBudget bounds the bytes the runs directory may hold: a training
	// that could take it past the budget is refused (507).
	RunsBudget int64
	// AllowedHosts are the host names and addresses, without ports, that
	// requests may name in their Host header (and pages in their Origin)
	// besides the loopback ones ("localhost", 127.0.0.0/8, ::1), which are
	// always allowed. serve adds its --addr host and --allowed-hosts.
	AllowedHosts []string
	// Models are the paths of models to offer beside the demo and the
	// runs (serve --model): Hugging Face folders, TransformerLens
	// safetensors files or run folders, each with the tokenizer its folder
	// holds (tokenizer.json, or vocab.json + merges.txt), if any. Pages
	// name them by their base names, never by their paths.
	Models []string
	// SAEs are sparse dictionaries for the Features page beside the
	// embedded one (serve --sae): "MODEL=DIR" binds the dictionary in DIR
	// (SAELens's layout) to the served model MODEL, a bare "DIR" to the
	// demo.
	SAEs []string
}

func (d Deps) withDefaults() Deps {
	if d.RunsDir == "" {
		d.RunsDir = DefaultRunsDir
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.KeepAlive <= 0 {
		d.KeepAlive = DefaultKeepAlive
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = DefaultRequestTimeout
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if d.BodyTimeout <= 0 {
		d.BodyTimeout = DefaultBodyTimeout
	}
	if d.AnalysisSlots <= 0 {
		d.AnalysisSlots = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if d.MaxStreams <= 0 {
		d.MaxStreams = DefaultMaxStreams
	}
	if d.RunsBudget <= 0 {
		d.RunsBudget = DefaultRunsBudget
	}
	if d.DataDir == "" {
		d.DataDir = data.FashionMNISTDir
	}
	return d
}

// Server is the dashboard: an http.Handler for the pages and the API, and
// the owner of the trainings it starts. It is safe for concurrent use.
type Server struct {
	d       Deps
	log     *slog.Logger
	router  chi.Router
	models  *store
	cnns    *cnnStore
	gans    *ganAPI
	trainer *trainer
	feats   *featuresAPI
	quit    chan struct{} // closed by CloseStreams: event streams end
}

// New returns the dashboard for d. It panics if the embedded assets are
// broken, which is a build error that the package's tests catch, or if a
// model of d.Models cannot be loaded: programs serving paths from users
// call Open.
func New(d Deps) *Server {
	s, err := Open(d)
	if err != nil {
		panic(err)
	}
	return s
}

// Open returns the dashboard for d after loading every model d.Models
// and every dictionary d.SAEs names; one that cannot be loaded is an error
// naming its path (the user's own words on the command line).
func Open(d Deps) (*Server, error) {
	named, err := loadNamedModels(d.Models)
	if err != nil {
		return nil, err
	}
	d = d.withDefaults()
	demo, err := loadDemo()
	if err != nil {
		panic(err)
	}
	text, err := loadTextDemo(context.Background())
	if err != nil {
		panic(err)
	}
	cnnDemo, samples, err := loadCNNDemo()
	if err != nil {
		panic(err)
	}
	ganDemo, err := loadGANDemo()
	if err != nil {
		panic(err)
	}
	s := &Server{d: d, log: d.Logger, models: newStore(d.RunsDir, []*model{text, demo}, named), quit: make(chan struct{}),
		cnns: newCNNStore(d.RunsDir, d.DataDir, cnnDemo, samples),
		gans: newGANAPI(d.RunsDir, ganDemo, cnnDemo.m, d.Logger)}
	s.trainer = newTrainer(d.RunsDir, d.RunsBudget, d.Logger)
	if s.feats, err = newFeaturesAPI(d.SAEs, s.models, d.Logger); err != nil {
		return nil, err
	}
	s.router = s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// routes assembles the router: common middleware, the pages, and the API
// with one mounted router per resource.
func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, recoverer(s.log), securityHeaders, newHostPolicy(s.d.AllowedHosts).checkHost, bodyDeadline(s.d.BodyTimeout))
	r.Group(func(r chi.Router) {
		r.Use(timeout(s.d.RequestTimeout))
		r.Mount("/", pagesRoutes(s.log))
	})
	r.Route("/api", func(r chi.Router) {
		r.Use(limitBody(s.d.MaxBodyBytes))
		r.NotFound(notFoundJSON)
		r.MethodNotAllowed(methodNotAllowedJSON)
		r.Group(func(r chi.Router) {
			r.Use(timeout(s.d.RequestTimeout), limitWork(make(chan struct{}, s.d.AnalysisSlots)))
			r.Mount("/models", (&modelsAPI{s.models, s.log}).Routes())
			r.Mount("/runs", (&runsAPI{s.d.RunsDir, s.trainer, s.log}).Routes())
			r.Mount("/cnn", (&cnnAPI{s.cnns, s.log}).Routes())
			r.Mount("/gan", s.gans.Routes())
			r.Mount("/sweeps", (&sweepsAPI{s.d.RunsDir, s.log}).Routes())
			r.Mount("/features", s.feats.Routes())
		})
		r.Mount("/train", (&trainAPI{s.trainer, s.log, s.d.KeepAlive, s.d.RequestTimeout, s.quit, make(chan struct{}, s.d.MaxStreams)}).Routes())
	})
	return r
}

// CloseStreams ends every open event stream, so that http.Server.Shutdown
// need not wait for them (register it with http.Server.RegisterOnShutdown).
// Clients reconnect to whatever serves next. It is safe to call more than
// once.
func (s *Server) CloseStreams() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
}

// Shutdown ends the event streams, stops every running training (each
// saves a checkpoint as it stops) and waits for them until ctx is done.
// New trainings are refused afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	s.CloseStreams()
	return s.trainer.shutdown(ctx)
}
