// Package table lines up columns of text by display width: the cells a
// terminal draws, so that Japanese text (two cells a character) lines up
// with ASCII. text/tabwriter counts runes, which pads 発送済み as if it
// were four cells wide.
//
// Writer is a stand-in for the tabwriter the commands used, with the same
// input (cells end in a tab, lines in a newline) and layout (two spaces
// between columns, the last cell of a line not padded); Width and Pad serve
// columns formatted by hand.
package table
