package tokenizer_test

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/tokenizer"
)

// Three merges learned on a tiny text: "a b" (4 occurrences), then " ab"
// (3), then " abc" (1). The vocabulary is the 256 bytes and the merges.
func ExampleTrainBPE() {
	tok, err := tokenizer.TrainBPE(context.Background(), []byte("ab ab ab abc"), 259, tokenizer.TrainOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for id := 256; id < tok.VocabSize(); id++ {
		p, _ := tok.Piece(id)
		fmt.Printf("%d %q\n", id, p)
	}
	enc, _ := tok.Encode("abc ab abd", tokenizer.Options{BOS: tokenizer.BOSNever})
	fmt.Println(enc.IDs)
	// Output:
	// 256 "ab"
	// 257 " ab"
	// 258 " abc"
	// [256 99 257 257 100]
}
