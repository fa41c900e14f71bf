// Package humanerr turns the library's error messages into ones for the
// people who read them at a command line or on a page.
//
// The library's errors follow the house style: each layer prefixes its
// package name ("transformer: token 999 … out of range"), so a message that
// crossed four layers reads "web: tokens: transformer: …". Those prefixes
// help a developer find the code; a user needs only what was wrong.
package humanerr

import "regexp"

// prefixes matches a run of the module's package names used as error
// prefixes, at the start of a message or after another ": ".
var prefixes = regexp.MustCompile(`(^|: )(?:(?:checkpoint|circuits|cnn|data|discover|figures|formats|gan|hf|hooks|induction|lens|llama2c|lm|nn|optim|patching|sae|sweep|tensor|tokenizer|tokens|train|transformer|web|workers): )+`)

// Strip returns msg without the library's package prefixes:
// "web: tokens: transformer: token 999 at position 2 is out of range [0, 64)"
// becomes "token 999 at position 2 is out of range [0, 64)".
func Strip(msg string) string { return prefixes.ReplaceAllString(msg, "$1") }
