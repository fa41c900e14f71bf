package hooks

import (
	"fmt"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/tensor"
)

// orderKey is the __metadata__ key that records the capture order.
const orderKey = "workbench.cache.order"

// Save writes the cache to path as safetensors, one tensor per cached name,
// atomically. The capture order is kept in the metadata.
func (c *Cache) Save(path string) error {
	ts := make([]checkpoint.Tensor, 0, len(c.order))
	for _, n := range c.order {
		t := c.acts[n]
		ts = append(ts, checkpoint.Tensor{Name: string(n), Shape: t.Shape, Data: t.Data})
	}
	names := make([]string, len(c.order))
	for i, n := range c.order {
		names[i] = string(n)
	}
	return checkpoint.WriteFile(path, ts, map[string]string{orderKey: strings.Join(names, "\n")})
}

// LoadCache reads a cache written by Save (or any safetensors file: each
// tensor becomes an entry, converted to float32).
func LoadCache(path string) (*Cache, error) {
	f, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var order []string
	if s, ok := f.Metadata[orderKey]; ok && s != "" {
		order = strings.Split(s, "\n")
	}
	seen := map[string]bool{}
	c := NewCache()
	add := func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		data, shape, err := f.Float32(name)
		if err != nil {
			return err
		}
		c.Put(Name(name), tensor.FromSlice(data, shape...))
		return nil
	}
	for _, n := range order {
		if _, ok := f.Info(n); !ok {
			return nil, fmt.Errorf("hooks: cache file %s lists %q but does not hold it", path, n)
		}
		if err := add(n); err != nil {
			return nil, err
		}
	}
	for _, info := range f.Tensors() {
		if err := add(info.Name); err != nil {
			return nil, err
		}
	}
	return c, nil
}
