package synthetic

import (
	"math/rand"
	"strings"
)

// tricky tags are always in the vocabulary, at fixed popularity ranks, so
// that even a short stream exercises them: several cases of one key, a fold
// that changes length, accents, non-Latin scripts, digits and underscores.
var tricky = []string{
	"KafkaSummit", "Straße", "café", "東京", "Москва", "Ελλάδα", "العربية",
	"서울", "GoLang", "100DaysOfCode", "dev_ops", "Zürich", "İstanbul",
}

// trickyRanks are the popularity ranks the tricky tags take: some near the
// top, so they show up in a top 10, the rest spread out.
var trickyRanks = []int{2, 5, 9, 14, 21, 33, 47, 60, 75, 90, 120, 150, 200}

var syllables = []string{
	"ka", "fka", "tre", "nd", "sum", "mer", "go", "lang", "data", "flow",
	"pix", "el", "neo", "vibe", "moon", "sun", "rise", "star", "beat", "wave",
	"byte", "cloud", "node", "zen", "fit", "food", "trip", "art", "play", "live",
	"news", "vote", "team", "cup", "goal", "jazz", "rock", "film", "book", "chef",
	"mo", "ri", "ta", "lo", "vi", "sa", "ne", "xo", "qu", "ix",
}

var stems = []string{
	"Monday", "Friday", "Weekend", "Summer", "Winter", "Music", "Travel", "Food",
	"Tech", "News", "Sports", "Football", "Election", "Climate", "Coffee",
	"Cats", "Dogs", "Photo", "Art", "Gaming", "Crypto", "AI", "Science", "Books",
	"Movies", "Fashion", "Fitness", "Health", "Startup", "Design", "Space",
	"Nature", "Concert", "Festival", "Launch", "Live", "Throwback", "Goals",
}

// vocabulary builds n distinct tags (distinct by counting key, which for
// these ASCII-or-listed tags is their lowercase form), most popular first.
func vocabulary(rnd *rand.Rand, n int) []string {
	out := make([]string, 0, n)
	seen := map[string]bool{}
	add := func(t string) bool {
		k := strings.ToLower(t)
		if seen[k] {
			return false
		}
		seen[k] = true
		out = append(out, t)
		return true
	}
	for _, t := range tricky {
		seen[strings.ToLower(t)] = true
	}
	seen["strasse"] = true // Straße's key
	for len(out) < n-len(tricky) {
		var t string
		switch rnd.Intn(3) {
		case 0:
			t = stems[rnd.Intn(len(stems))] + stems[rnd.Intn(len(stems))]
		case 1:
			t = stems[rnd.Intn(len(stems))] + title(word(rnd))
		default:
			t = title(word(rnd)) + title(word(rnd))
		}
		if rnd.Intn(8) == 0 {
			t += "20" + string(rune('1'+rnd.Intn(9))) + string(rune('0'+rnd.Intn(10)))
		}
		add(t)
	}
	for i, t := range tricky {
		at := min(trickyRanks[i], len(out))
		out = append(out[:at], append([]string{t}, out[at:]...)...)
	}
	return out[:n]
}

// title upper-cases the first letter of an ASCII word.
func title(w string) string { return strings.ToUpper(w[:1]) + w[1:] }

func word(rnd *rand.Rand) string {
	var b strings.Builder
	for range 2 + rnd.Intn(2) {
		b.WriteString(syllables[rnd.Intn(len(syllables))])
	}
	return b.String()
}

// Word lists for the texts: common function words and harmless nouns, enough
// to look like language without being anyone's post.
var lexicons = map[string][]string{
	"en": strings.Fields("the a and to of in is it for on with this that just so " +
		"today really new great time love day people think game coffee city train " +
		"weekend morning finally again what why how we you they my our best ever " +
		"can't wait watching reading about here now tonight team music"),
	"nl": strings.Fields("de het een en van in is dat op te met voor niet zijn " +
		"vandaag echt nieuwe mooi tijd dag mensen denk spel koffie stad trein " +
		"weekend morgen eindelijk weer wat waarom hoe we jullie mijn beste"),
	"es": strings.Fields("el la los las y de en que es por con para un una hoy " +
		"muy nuevo gran tiempo día gente juego café ciudad tren fin semana mañana " +
		"por_fin otra vez qué cómo nosotros mejor"),
	"de": strings.Fields("der die das und zu von in ist es für mit auf nicht " +
		"heute wirklich neue tolle Zeit Tag Leute Spiel Kaffee Stadt Zug " +
		"Wochenende Morgen endlich wieder was warum wie wir mein beste"),
	"ja": strings.Fields("今日 は とても いい 天気 です ね 新しい 電車 コーヒー " +
		"週末 朝 やっと また 何 なぜ 私たち 最高 ゲーム 音楽 映画"),
}

func lexicon(lang string) []string {
	if l, ok := lexicons[lang]; ok {
		return l
	}
	return lexicons["en"]
}
