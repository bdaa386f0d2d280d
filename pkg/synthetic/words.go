package synthetic

import "strings"

// The word lists of the stream: per language, the words texts are made of
// (lexicons), and the nouns and modifiers hashtags are made of (tagWords);
// language-neutral tags (brands, acronyms, events, numbers) in neutralWords.
// Nothing here is anyone's post: texts are strings of common words, tags
// are common topic nouns, alone or in CamelCase pairs.

// tricky tags are always in the vocabulary, at fixed popularity ranks of
// their language's list (or the neutral list when their language is not
// one of the stream's), so that even a short stream exercises them: several
// cases of one key, a fold that changes length, accents, non-Latin
// scripts, digits and underscores.
var tricky = []struct {
	tag, lang string
	rank      int
}{
	{"KafkaSummit", "", 1}, {"Москва", "", 4}, {"GoLang", "", 8}, {"100DaysOfCode", "", 13},
	{"dev_ops", "", 20}, {"Ελλάδα", "", 32}, {"العربية", "", 46}, {"서울", "", 59}, {"İstanbul", "", 74},
	{"Straße", "de", 4}, {"Zürich", "de", 13}, {"東京", "ja", 2}, {"café", "fr", 8},
}

// tagWords are the topic nouns of a language (sport, music, weather, tech,
// food, travel, culture, pets, science, politics) and the modifiers that
// pair with them ("FootballNews", "KaffeeZeit", "猫好き"). A word that two
// languages share goes to the first list that claims it.
var tagWords = map[string]struct{ nouns, modifiers []string }{
	"en": {
		strings.Fields("Football Soccer Tennis Cricket Rugby Basketball Cycling Marathon Olympics WorldCup " +
			"Music Jazz HipHop Concert Festival Album Playlist Weather Rain Snow Storm Heatwave Sunset " +
			"Spring Summer Autumn Winter Tech Coding Startup Gadgets Smartphone Cloud Security Food Coffee " +
			"Pizza Baking Brunch Recipe Travel Books Movies Gaming Photography Garden Cats Dogs Science " +
			"Space Climate Election Art Fitness Fashion"),
		strings.Fields("Live News Time Lovers Life Day Weekend Fans Tips Season Night Today Goals"),
	},
	"de": {
		strings.Fields("Fußball Bundesliga Handball Radsport Tennis Marathon Musik Konzert Schlager Oper " +
			"Wetter Regen Schnee Gewitter Hitze Sommer Winter Herbst Frühling Sonnenuntergang Technik " +
			"Digitalisierung Datenschutz Programmieren Handy Essen Kaffee Kuchen Brot Bier Wein Grillen " +
			"Rezept Reisen Urlaub Bücher Kino Fernsehen Garten Katzen Hunde Wissenschaft Klima Wahl " +
			"Politik Bahn Kunst Fotografie Wandern"),
		strings.Fields("Liebe Zeit Live News Heute Fans Tipps Abend Wochenende Saison Chaos Glück"),
	},
	"es": {
		strings.Fields("Fútbol LaLiga Tenis Ciclismo Baloncesto Pádel Música Concierto Flamenco Reguetón " +
			"Tiempo Lluvia Calor Tormenta Verano Invierno Primavera Otoño Atardecer Tecnología " +
			"Programación Móvil Datos Comida Tapas Paella Receta Cocina Churros Viaje Playa Libros Cine " +
			"Series Videojuegos Gatos Perros Ciencia Clima Elecciones Política Arte Fotografía Salud Moda"),
		strings.Fields("EnVivo Hoy Fans Noticias Finde Lovers Total Diario"),
	},
	"fr": {
		strings.Fields("Foot Ligue1 Rugby Cyclisme TourDeFrance Pétanque Musique Chanson Concert Météo " +
			"Pluie Neige Orage Canicule Été Hiver Printemps Automne Numérique Code Données Cuisine " +
			"Boulangerie Fromage Vin Recette Croissant Voyage Plage Livres Cinéma Séries JeuxVidéo Chats " +
			"Chiens Climat Élections Politique Photo Santé Mode Grève"),
		strings.Fields("EnDirect DuJour Passion Fans Infos Actu Amour Soirée"),
	},
	"ja": {
		strings.Fields("サッカー 野球 大相撲 テニス マラソン 駅伝 音楽 ライブ 新曲 アニメ 映画 ドラマ 天気 雨 雪 台風 " +
			"桜 紅葉 夏休み 花火 夕焼け 猛暑 プログラミング ガジェット スマホ 料理 ラーメン 寿司 カレー お弁当 " +
			"カフェ スイーツ 日本酒 旅行 温泉 読書 写真 猫 犬 宇宙 科学 選挙 ニュース ゲーム 散歩 朝ごはん"),
		strings.Fields("好き 部 日和 速報 記録 好きな人と繋がりたい 巡り 情報 仲間 初心者"),
	},
	"nl": {
		strings.Fields("Voetbal Eredivisie Schaatsen Wielrennen Hockey Muziek Koningsdag Weer Sneeuw " +
			"Hittegolf Zomer Herfst Lente Zonsondergang Techniek Programmeren Telefoon Eten Koffie " +
			"Stroopwafel Kaas Fiets Recept Strand Boeken Film Gamen Katten Honden Wetenschap Klimaat " +
			"Verkiezingen Politiek Gezondheid Trein"),
		strings.Fields("Live Nieuws Vandaag Liefde Tijd Fans Tips Weekend Seizoen Avond"),
	},
	"pt": {
		strings.Fields("Futebol Brasileirão Vôlei Tênis Surfe Música Samba Forró Sertanejo Show Carnaval " +
			"Tempo Chuva Calor Frio Verão Inverno Outono PorDoSol Tecnologia Programação Celular Dados " +
			"Comida Açaí Churrasco Feijoada Receita Pastel Viagem Praia Livros Cinema Novela Games Gatos " +
			"Cachorros Ciência Clima Eleições Política Arte Fotografia Saúde Moda"),
		strings.Fields("AoVivo Hoje Fãs Notícias Amor Total Diário DoDia"),
	},
}

// neutralWords are tags people write whatever their language: brands,
// acronyms, events, with years and a few English modifiers for pairs.
var neutralWords = struct{ nouns, modifiers []string }{
	strings.Fields("AI LLM F1 NBA NFL UFC UEFA FIFA Eurovision iPhone Android PS5 Xbox Nintendo Netflix " +
		"Spotify YouTube TikTok Linux OpenSource Rust Python JavaScript Kubernetes Docker Web3 Bitcoin " +
		"Crypto 5G 4K KPop BTS Marvel StarWars Minecraft Fortnite COP30 G20 NASA SpaceX WWDC CES"),
	strings.Fields("Live News Fans Day Finals Update"),
}

// years extend the pairs when a list needs more tags than the pairs give.
var years = strings.Fields("2020 2021 2022 2023 2024 2025 2026 2027 2028 2029 2030")

// spamWords name the flooders' tags: what a flooding account repeats.
var spamWords = strings.Fields("FreeFollowers CryptoGiveaway FollowBack WinBig DealsToday ClickHere " +
	"EasyMoney PromoCode")

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
	"pt": strings.Fields("o a os as e de em que é para com um uma hoje muito novo " +
		"ótimo tempo dia gente jogo café cidade trem fim semana manhã finalmente " +
		"outra vez como nós melhor agora aqui nunca"),
	"fr": strings.Fields("le la les et de en que est pour avec un une ce soir très " +
		"nouveau super temps jour gens jeu café ville train week-end matin enfin " +
		"encore quoi pourquoi comment nous meilleur ici maintenant"),
}

// lexicon is the text words of lang; languages without a list write
// English words.
func lexicon(lang string) []string {
	if l, ok := lexicons[lang]; ok {
		return l
	}
	return lexicons["en"]
}
