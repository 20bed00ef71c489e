//go:build !linux

package goq

import "errors"

// renameNoReplace is not available here; callers link and unlink.
func renameNoReplace(src, dst string) error { return errors.ErrUnsupported }
