package hashtag

import (
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name string
		tag  string
		want string
	}{
		{"lowercase ASCII is its own key", "tiktok", "tiktok"},
		{"ASCII is lowercased", "TikTok_2024", "tiktok_2024"},
		{"full-width letters become ASCII", "ＴｉｋＴｏｋ", "tiktok"},
		{"accented capitals fold", "ÉCOLE", "école"},
		{"decomposed accents compose", "e\u0301cole", "école"},
		{"sharp s folds to ss", "Straße", "strasse"},
		{"final sigma folds like sigma", "ΟΔΟΣ", "οδοσ"},
		{"the Kelvin sign folds to k", "\u212Aelvin", "kelvin"},
		{"dotted capital I keeps its dot as a mark", "İstanbul", "i̇stanbul"},
		{"a compatibility capital is folded after NFKC", "ℌ", "h"},
		{"half-width katakana becomes full width", "ﾊｯｼｭ", "ハッシュ"},
		{"scripts without case are unchanged", "日本語", "日本語"},
		{"small Cherokee letters fold to capitals", "ꮥᏸ", "ᏕᏰ"},
		{"capital Cherokee letters stay capitals", "ᏕᏰ", "ᏕᏰ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Key(tt.tag); got != tt.want {
				t.Errorf("Key(%q) = %q, want %q", tt.tag, got, tt.want)
			}
		})
	}
}

func TestKeyMatchesTheDesignRule(t *testing.T) {
	for _, tag := range []string{"TikTok", "ÉCOLE", "ＴｉｋＴｏｋ", "Straße", "ﾊｯｼｭ", "Ağrı", "ΟΔΟΣ", "\u212A"} {
		want := norm.NFKC.String(cases.Fold().String(tag))
		if got := Key(tag); got != want {
			t.Errorf("Key(%q) = %q, want norm.NFKC.String(cases.Fold().String(tag)) = %q", tag, got, want)
		}
	}
}

func TestKeyOfLowercaseASCIIDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Key("already_lower") }); n != 0 {
		t.Errorf("Key allocated %v times, want 0", n)
	}
}
