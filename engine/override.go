package engine

import (
	"maps"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// override returns blk's body with the arguments the overrides for its
// connector set or remove. The parsed file is left as it is: the result is
// a shallow copy with its own attribute map. A set argument keeps the
// range of the one it replaces (or the block's), so a diagnostic about its
// value still points into the job file.
func override(blk *hcl.Block, overrides []Override) hcl.Body {
	body, ok := blk.Body.(*hclsyntax.Body)
	if !ok {
		return blk.Body
	}
	var out *hclsyntax.Body
	for _, o := range overrides {
		if o.Block != blk.Type || len(blk.Labels) == 0 || o.Type != blk.Labels[0] {
			continue
		}
		if out == nil {
			cp := *body
			cp.Attributes = maps.Clone(body.Attributes)
			out = &cp
		}
		for _, name := range o.Remove {
			delete(out.Attributes, name)
		}
		for name, v := range o.Set {
			rng, nameRng := blk.DefRange, blk.DefRange
			if a, ok := body.Attributes[name]; ok {
				rng, nameRng = a.Expr.Range(), a.NameRange
			}
			out.Attributes[name] = &hclsyntax.Attribute{
				Name:        name,
				Expr:        &hclsyntax.LiteralValueExpr{Val: v, SrcRange: rng},
				SrcRange:    rng,
				NameRange:   nameRng,
				EqualsRange: nameRng,
			}
		}
	}
	if out == nil {
		return blk.Body
	}
	return out
}
