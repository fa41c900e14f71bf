//go:build race

package web

// raceEnabled reports a build with the race detector, which slows the
// load test's requests several times over (TestLoadMixed).
const raceEnabled = true
