// Package version says which build of runner this is, from the build
// information the Go toolchain embeds. It is not a release process.
package version
