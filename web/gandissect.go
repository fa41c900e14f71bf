package web

import (
	"context"
	"math"
	"net/http"

	"github.com/mechinterp/workbench/gan"
	"github.com/mechinterp/workbench/hooks"
)

// dissectKey names one cached dissection.
type dissectKey struct {
	seed  uint64
	n     int
	point hooks.Name
}

// ganDissectRequest is POST /api/gan/models/{name}/dissect, and with Unit
// POST …/unitmaps: the samples of the grid drawn from Seed (the page's
// grid), dissected at a generator point.
type ganDissectRequest struct {
	Seed  uint64 `json:"seed"`
	N     int    `json:"n,omitempty"`     // 1 to 256 (0: 32)
	Point string `json:"point,omitempty"` // absent: gan.DefaultAblationPoint
	Unit  *int   `json:"unit,omitempty"`  // unitmaps only
}

// ganDissectResponse is every unit's IoU with every concept, and each
// unit's best concept; units come in order, ranked lists are built by the
// page per concept.
type ganDissectResponse struct {
	Point    string        `json:"point"`
	N        int           `json:"n"`
	Concepts []string      `json:"concepts"`
	IoU      [][]float64   `json:"iou"`    // [unit][concept]
	Thresh   []float64     `json:"thresh"` // per unit
	Best     []unitConcept `json:"best"`   // per unit, its best concept
	Quantile float64       `json:"quantile"`
	Counts   []int         `json:"counts"` // samples per class
}

type unitConcept struct {
	Unit    int     `json:"unit"`
	Concept string  `json:"concept"`
	IoU     float64 `json:"iou"`
}

// dissection returns the cached dissection of req's samples.
func (a *ganAPI) dissection(ctx context.Context, m *ganModel, req ganDissectRequest) (*gan.Dissection, error) {
	if req.N == 0 {
		req.N = 32
	}
	if req.N < 1 || req.N > maxGANSamples {
		return nil, errorf(http.StatusBadRequest, "web: n %d: want 1 to %d samples", req.N, maxGANSamples)
	}
	point := gan.DefaultAblationPoint
	if req.Point != "" {
		p, err := m.m.ParseHook(req.Point)
		if err != nil {
			return nil, badRequest(err)
		}
		point = p
	}
	shape, _ := m.m.PointShape(point)
	if !isGenerator(point) || len(shape) != 3 {
		return nil, errorf(http.StatusBadRequest, "web: dissect %s: pick a generator feature map (G.blocks.… with channels, height and width)", point)
	}
	d, err := m.dissections.get(dissectKey{req.Seed, req.N, point}, func() (*gan.Dissection, error) {
		return m.m.Dissect(ctx, a.judge, point, latents(m.m, req.Seed, req.N), req.N, a.classes)
	})
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	return d, nil
}

func (a *ganAPI) dissect(ctx context.Context, m *ganModel, req ganDissectRequest) (*ganDissectResponse, error) {
	if req.Unit != nil {
		return nil, errorf(http.StatusBadRequest, "web: dissect: unit belongs to /unitmaps")
	}
	d, err := a.dissection(ctx, m, req)
	if err != nil {
		return nil, err
	}
	resp := &ganDissectResponse{Point: string(d.Point), N: d.N, Concepts: d.Concepts, Quantile: gan.DissectQuantile, Counts: make([]int, len(a.classes))}
	for _, c := range d.Classes {
		resp.Counts[c]++
	}
	for u, row := range d.IoU {
		r := make([]float64, len(row))
		best := 0
		for c, v := range row {
			r[c] = round4(v)
			if v > row[best] {
				best = c
			}
		}
		resp.IoU = append(resp.IoU, r)
		resp.Thresh = append(resp.Thresh, round4(d.Thresh[u]))
		resp.Best = append(resp.Best, unitConcept{Unit: u, Concept: d.Concepts[best], IoU: round4(row[best])})
	}
	return resp, nil
}

// ganUnitMapsResponse is one unit's activation map on every sample.
type ganUnitMapsResponse struct {
	Point    string  `json:"point"`
	Unit     int     `json:"unit"`
	MapShape []int   `json:"map_shape"` // [h, w]
	Maps     []sig4  `json:"maps"`      // [n][h·w]
	Thresh   float64 `json:"thresh"`    // the dissection's threshold t_u (upsampled maps above it are "on")
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	Classes  []int   `json:"classes"`
}

func (a *ganAPI) unitMaps(ctx context.Context, m *ganModel, req ganDissectRequest) (*ganUnitMapsResponse, error) {
	if req.Unit == nil {
		return nil, errorf(http.StatusBadRequest, `web: unitmaps: give "unit"`)
	}
	d, err := a.dissection(ctx, m, req)
	if err != nil {
		return nil, err
	}
	units, h, w := d.Maps.Shape[1], d.Maps.Shape[2], d.Maps.Shape[3]
	u := *req.Unit
	if u < 0 || u >= units {
		return nil, errorf(http.StatusBadRequest, "web: unitmaps: unit %d outside [0, %d) of %s", u, units, d.Point)
	}
	resp := &ganUnitMapsResponse{Point: string(d.Point), Unit: u, MapShape: []int{h, w}, Thresh: round4(d.Thresh[u]),
		Lo: math.Inf(1), Hi: math.Inf(-1), Classes: d.Classes}
	for i := range d.N {
		mp := d.Maps.Data[(i*units+u)*h*w : (i*units+u+1)*h*w]
		for _, v := range mp {
			resp.Lo, resp.Hi = min(resp.Lo, float64(v)), max(resp.Hi, float64(v))
		}
		resp.Maps = append(resp.Maps, mp)
	}
	return resp, nil
}
