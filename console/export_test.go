package console

import "os"

// osFS is the package's directory, for tests that read its sources.
var osFS = os.DirFS(".")
