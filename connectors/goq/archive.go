package goq

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Retires reports whether the source reads an inbox, whose files Archive
// moves away once they are done. It implements engine.Archiver.
func (s *Source) Retires() bool { return s.inbox != "" }

// Archive moves file, one of the inbox files a Rows read (see Rows.Files),
// into the archive directory. Call it only once every order in the file has
// a recorded result: until then the file must stay in the inbox, so that a
// crash loses nothing and the next run reads it again.
//
// The move is a rename within one file system, never a copy: at every
// instant the file is whole in the inbox, whole in the archive, or (after
// a crash between the two steps below) whole in both, which the next
// Archive of it recognises. An archived file of the same name is never
// overwritten; the new one gets a "-2", "-3"… suffix.
func (s *Source) Archive(ctx context.Context, file string) error {
	if s.inbox == "" {
		return errors.New("archive: the source has no inbox")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if filepath.Clean(filepath.Dir(file)) != filepath.Clean(s.inbox) {
		return fmt.Errorf("archive %s: not a file of the inbox %s", file, s.inbox)
	}
	if err := os.MkdirAll(s.archive, 0o755); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := moveNoReplace(file, filepath.Join(s.archive, filepath.Base(file))); err != nil {
		return fmt.Errorf("archive %s: %w", filepath.Base(file), err)
	}
	return nil
}

// moveNoReplace renames src to dst, or to dst with a numeric suffix when
// dst exists, never replacing a file. On Linux it is one rename(2) that
// refuses an existing target (RENAME_NOREPLACE), so at every instant the
// file has exactly one of its two names. Elsewhere it links first and then
// unlinks, because a plain rename replaces an existing target silently; a
// crash between the two leaves both names, which linked recognises.
func moveNoReplace(src, dst string) error {
	if _, err := os.Lstat(src); err != nil {
		return err
	}
	ext := filepath.Ext(dst)
	stem := strings.TrimSuffix(dst, ext)
	for n := 1; n <= 1000; n++ {
		target := dst
		if n > 1 {
			target = stem + "-" + strconv.Itoa(n) + ext
		}
		switch err := renameNoReplace(src, target); {
		case err == nil:
			return syncDirs(filepath.Dir(target), filepath.Dir(src))
		case errors.Is(err, fs.ErrExist) && sameFile(src, target):
			// A move by link and unlink (elsewhere, or an older
			// version) stopped half way: finish it.
			if err := os.Remove(src); err != nil {
				return err
			}
			return syncDir(filepath.Dir(src))
		case errors.Is(err, fs.ErrExist):
			continue
		case !errors.Is(err, errors.ErrUnsupported):
			return err
		}
		err := os.Link(src, target)
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrExist):
			if sameFile(src, target) {
				// A crash after the link and before the unlink
				// of an earlier move: finish that move.
				break
			}
			continue
		default:
			// No hard links here (some network and FAT file
			// systems): rename, after making sure it replaces
			// nothing.
			if _, serr := os.Lstat(target); serr == nil {
				continue
			}
			if rerr := os.Rename(src, target); rerr != nil {
				return fmt.Errorf("rename (the archive must be on the inbox's file system): %w", rerr)
			}
			return syncDirs(filepath.Dir(target), filepath.Dir(src))
		}
		if err := syncDir(filepath.Dir(target)); err != nil {
			return err
		}
		if err := os.Remove(src); err != nil {
			return err
		}
		return syncDir(filepath.Dir(src))
	}
	return fmt.Errorf("%s and 999 numbered variants already exist", dst)
}

// linked reports whether a file has another name too: a move by link and
// unlink that stopped half way.
func linked(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink > 1
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}

func syncDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// syncDir makes a rename in dir durable, so that a power cut cannot undo an
// archive (or a written import file) that was reported done.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && (errors.Is(err, fs.ErrInvalid) || errors.Is(err, errors.ErrUnsupported)) {
		return nil // some platforms cannot sync a directory
	}
	return err
}
