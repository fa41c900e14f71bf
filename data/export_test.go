package data

// EncodeIDX is exported for the external tests and examples.
var EncodeIDX = encodeIDX
