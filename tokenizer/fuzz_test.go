package tokenizer

import (
	"testing"

	"golang.org/x/text/unicode/norm"
)

// FuzzEncode: for any input, both tokenizers encode without error or
// panic, round-trip (to the NFC form for Qwen3), and give spans that tile
// the input (cover it in order, for text NFC changes).
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"Hello, world!", "  a\r\n\tb  ", "I'LL 'S", "日本😀\u200d👍🏽", "e\u0301\u0301x", "\xff<|endoftext|>"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	gpt2, qwen := loadTok(f, "gpt2"), loadTok(f, "qwen3")
	f.Fuzz(func(t *testing.T, s string, special bool) {
		opt := Options{Special: special, BOS: BOSNever}
		enc, err := gpt2.Encode(s, opt)
		if err != nil {
			t.Fatal(err)
		}
		if s != "" {
			checkInvariants(t, gpt2, s, enc)
		}
		enc, err = qwen.Encode(s, opt)
		if err != nil {
			t.Fatal(err)
		}
		if s == "" {
			return
		}
		if nfc := norm.NFC.String(s); nfc == s {
			checkInvariants(t, qwen, s, enc)
		} else if !special {
			checkNormalized(t, qwen, s, nfc, enc)
		}
	})
}
