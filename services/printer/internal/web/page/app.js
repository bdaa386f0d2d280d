// The printer's page: follows the printer's event stream and draws the
// latest snapshot, or the lists of the facet picked (a network, a
// language, or both). Every string from a snapshot or a facet's lists goes
// into the page as text (textContent, setAttribute), never as markup, and
// every hashtag sits in its own <bdi dir="auto"> so that right-to-left
// spellings and direction overrides stay inside it.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const numbers = new Intl.NumberFormat("en-US");
  const scores = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const svgNS = "http://www.w3.org/2000/svg";
  let languageNames = null;
  try {
    languageNames = new Intl.DisplayNames(["en"], { type: "language" });
  } catch (e) {
    languageNames = null;
  }

  let receivedAt = null; // performance.now() when the printer got the shown snapshot
  let staleAfter = 6000; // ms, from the printer
  let batch = null;
  let ready = { ready: true };
  let connected = false;
  let source = null;
  let chosen = facetFromHash(); // the facet whose lists are shown
  let heard = false; // the current stream has sent a snapshot
  let trendingDrawn = ""; // what the trending list was drawn from, to leave it be when unchanged
  let openKey = null; // the trend whose reason was opened by a tap or a key

  // A facet's name as the counter writes it; anything else is all.
  function facetFromHash() {
    const m = /^#facet=(.*)$/.exec(location.hash);
    const name = m ? m[1] : "all";
    return /^(all|source:[a-z]+(\/lang:[a-z]+)?|lang:[a-z]+)$/.test(name) ? name : "all";
  }

  function connect() {
    heard = false;
    const url = chosen === "all" ? "events" : "events?facet=" + encodeURIComponent(chosen);
    const es = new EventSource(url);
    source = es;
    es.onopen = () => { if (source === es) { connected = true; tick(); } };
    es.onerror = () => {
      if (source !== es) {
        return;
      }
      connected = false;
      tick();
      // The browser retries by itself after a network error, but gives up
      // after an HTTP error; then start over, with all when the printer
      // refused the facet before it sent anything.
      if (es.readyState === EventSource.CLOSED) {
        if (!heard && chosen !== "all") {
          choose("all");
          return;
        }
        setTimeout(() => { if (source === es) { connect(); } }, 2000);
      }
    };
    es.addEventListener("status", (e) => {
      ready = JSON.parse(e.data);
      if (typeof ready.age_ms === "number") {
        receivedAt = performance.now() - ready.age_ms;
      }
      tick();
    });
    es.addEventListener("snapshot", (e) => {
      const v = JSON.parse(e.data);
      if ((v.facet ? v.facet.name : "all") !== chosen) {
        return;
      }
      heard = true;
      receivedAt = performance.now() - v.age_ms;
      staleAfter = v.stale_after_ms;
      draw(v);
      tick();
    });
  }

  // choose shows the lists of the facet name from now on: the stream is
  // opened again for it, without reloading the page.
  function choose(name) {
    if (name === chosen && source) {
      return;
    }
    chosen = name;
    history.replaceState(null, "", name === "all" ? location.pathname + location.search : "#facet=" + name);
    document.body.dataset.facet = name;
    document.body.dataset.shown = ""; // until the facet's lists come
    $("facet").textContent = name;
    trendingDrawn = "";
    openKey = null;
    if (source) {
      source.close();
    }
    connect();
  }

  // tick updates the status line: how old the shown snapshot is, and
  // whether that is stale.
  function tick() {
    const status = $("status");
    let state, text;
    if (receivedAt === null) {
      state = connected ? "waiting" : "connecting";
      text = connected ? "waiting for the first snapshot…" : "connecting to the printer…";
      if (connected && !ready.ready && ready.reason) {
        text += " (" + ready.reason + ")";
      }
    } else {
      const age = Math.max(0, performance.now() - receivedAt);
      const ago = seconds(age);
      if (age > staleAfter) {
        state = "stale";
        text = "stale: no new snapshot for " + ago;
        if (!connected) {
          text += " · printer unreachable, reconnecting";
        } else if (!ready.ready && ready.reason) {
          text += " · " + ready.reason;
        }
      } else {
        state = "live";
        text = "live · updated " + ago + " ago";
        if (!connected) {
          text += " · reconnecting";
        }
      }
    }
    document.body.dataset.state = state;
    document.body.dataset.connection = connected ? "open" : "lost";
    status.textContent = text;
  }

  function seconds(ms) {
    const s = Math.floor(ms / 1000);
    if (s < 120) {
      return s + " s";
    }
    return Math.floor(s / 60) + " min";
  }

  function utc(iso) {
    return new Date(iso).toISOString().slice(11, 19);
  }

  // clock is a post time in UTC, compact: hours and minutes (seconds when
  // it has them), with the day only when it is a day or more from ref.
  function clock(iso, ref) {
    const d = new Date(iso);
    const s = d.toISOString();
    let out = s.slice(11, 16);
    if (d.getUTCSeconds() !== 0) {
      out = s.slice(11, 19);
    }
    if (ref && Math.abs(new Date(ref).getTime() - d.getTime()) >= 24 * 3600 * 1000) {
      out = d.toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" }) + " " + out;
    }
    return out;
  }

  function draw(v) {
    const s = v.snapshot;
    batch = s.batch;
    $("window").textContent = "window " + utc(s.window_start) + " – " + utc(s.window_end) + " UTC";
    $("posts").textContent = numbers.format(s.posts);
    $("tagged").textContent = numbers.format(s.posts_with_hashtags);
    $("distinct").textContent = numbers.format(s.distinct_hashtags);
    $("batch").textContent = String(batch);
    picker(v.facets || []);
    const lists = v.facet ? v.facet.lists : s;
    drawTop(v, lists);
    drawTrending(s, lists);
    document.body.dataset.shown = v.facet ? v.facet.name : "all";
  }

  // picker fills the two selects from the facets the printer has seen,
  // keeping the one shown even when it has no lists now.
  function picker(facets) {
    const networks = new Set(), languages = new Set();
    for (const f of facets) {
      if (f.network) {
        networks.add(f.network);
      }
      if (f.language) {
        languages.add(f.language);
      }
    }
    const m = /^(?:source:([a-z]+))?\/?(?:lang:([a-z]+))?$/.exec(chosen === "all" ? "" : chosen) || [];
    const network = m[1] || "", language = m[2] || "";
    if (network) {
      networks.add(network);
    }
    if (language) {
      languages.add(language);
    }
    const last = (a) => (a === "other" ? 2 : a === "und" ? 1 : 0);
    const order = (a, b) => last(a) - last(b) || (a < b ? -1 : a > b ? 1 : 0);
    options($("pick-network"), "all networks", [...networks].sort(order), (n) => (n === "other" ? "other networks" : n), network);
    options($("pick-language"), "all languages", [...languages].sort(order), languageLabel, language);
  }

  function languageLabel(code) {
    if (code === "other") {
      return "other languages";
    }
    if (code === "und") {
      return "und · unknown";
    }
    let name = "";
    try {
      name = languageNames ? languageNames.of(code) : "";
    } catch (e) {
      name = "";
    }
    return name && name !== code ? code + " · " + name : code;
  }

  // options sets a select's options (the first is any, value "") unless
  // they are those already there, and selects value.
  function options(select, any, values, label, value) {
    const want = ["", ...values];
    const have = [...select.options].map((o) => o.value);
    if (want.join("\n") !== have.join("\n")) {
      select.replaceChildren(...want.map((val) => {
        const o = document.createElement("option");
        o.value = val;
        o.textContent = val === "" ? any : label(val);
        return o;
      }));
    }
    select.value = value;
  }

  function picked() {
    const n = $("pick-network").value, l = $("pick-language").value;
    if (n && l) {
      return "source:" + n + "/lang:" + l;
    }
    if (n) {
      return "source:" + n;
    }
    if (l) {
      return "lang:" + l;
    }
    return "all";
  }

  function drawTop(v, lists) {
    const facet = v.facet !== undefined && v.facet !== null;
    const top = lists ? (lists.top || []) : [];
    const most = Math.max(1, ...top.map((e) => e.count));
    let windows = 0;
    const rows = top.map((e, i) => {
      const row = fromTemplate("top-row");
      fill(row, e.rank || i + 1, e.hashtag, e.count / most);
      row.querySelector(".count").textContent = numbers.format(e.count);
      const line = facet ? [] : ((v.series || {})[e.key] || []);
      windows = Math.max(windows, line.length);
      spark(row.querySelector(".spark"), line);
      return row;
    });
    $("top").replaceChildren(...rows);
    $("top").classList.toggle("facet", facet);
    const empty = $("top-empty");
    empty.hidden = rows.length > 0;
    if (facet) {
      $("top-note").textContent = lists
        ? "running total in " + v.facet.name + " · as of batch " + lists.batch + " (written when they change)"
        : "";
      empty.textContent = lists ? "No hashtags counted in " + v.facet.name + " yet." :
        "No lists of " + v.facet.name + " yet: the counter writes a facet's lists once it has posts in it, and for the busiest languages only.";
    } else {
      const note = $("top-note");
      note.textContent = "running total · posts per window, last ";
      const w = document.createElement("span");
      w.id = "windows";
      w.textContent = windows ? String(windows) : "–";
      note.appendChild(w);
      empty.textContent = "No hashtags counted yet.";
    }
  }

  // drawTrending shows the trending list of lists (the snapshot's or the
  // facet's), the note while the counter's baseline is still building
  // (s.baseline_until), or nothing when the counter's trending view is off.
  function drawTrending(s, lists) {
    const facet = lists !== s;
    const trending = (lists && lists.trending) || [];
    const watermark = lists ? lists.watermark : null;
    const building = s.baseline_until;
    const on = Boolean(s.watermark || building || watermark || trending.length);
    $("trending-panel").hidden = !on;
    document.body.dataset.trending = building ? "building" : trending.length ? "listed" : on ? "empty" : "off";
    const note = $("trending-note");
    if (building) {
      note.textContent = "The baseline is still building: a trending list can exist from posts at " + utc(building) +
        " UTC (post time)" + (s.watermark ? "; posts are in up to " + utc(s.watermark) + "." : ".");
    } else if (watermark) {
      note.textContent = "posts up to " + utc(watermark) + " UTC (post time)";
    } else {
      note.textContent = "";
    }
    note.classList.toggle("building", Boolean(building));
    const empty = $("trending-empty");
    empty.hidden = trending.length > 0 || Boolean(building);
    empty.textContent = facet && !watermark
      ? "No trending list for " + chosen + ": nothing trends in it, or the counter keeps trending lists for all only (COUNTER_FACET_TRENDING)."
      : "Nothing trends right now.";

    const drawn = JSON.stringify([chosen, trending, watermark]);
    if (drawn === trendingDrawn) {
      return; // unchanged: an open reason stays as it is
    }
    trendingDrawn = drawn;
    const level = (t) => Math.max(t.score || 0, t.decayed || 0);
    const best = Math.max(1e-9, ...trending.map(level));
    const rows = trending.map((t, i) => {
      const row = fromTemplate("trend-row");
      fill(row, t.rank, t.hashtag, level(t) / best);
      row.dataset.key = t.key;
      const badge = row.querySelector(".badge");
      badge.textContent = t.status || "";
      badge.hidden = !t.status;
      if (t.status) {
        badge.dataset.status = t.status;
      }
      row.querySelector(".since").textContent = t.since ? "since " + clock(t.since, watermark) : "";
      const score = row.querySelector(".score");
      score.textContent = scores.format(level(t));
      score.title = t.status === "cooling" ? "score: its peak, decayed" : "score";
      row.querySelector(".recent").textContent = numbers.format(t.count) + " posts · " +
        numbers.format(Math.round(t.observed)) + " authors, " + round(t.expected) + " expected";
      const why = row.querySelector(".reason");
      why.id = "why-" + (i + 1);
      row.setAttribute("aria-describedby", why.id);
      reason(why, t, watermark);
      if (t.key === openKey) {
        row.classList.add("open");
      }
      return row;
    });
    $("trending").replaceChildren(...rows);
  }

  function round(x) {
    return x >= 10 ? numbers.format(Math.round(x)) : x.toFixed(1);
  }

  function percent(part, whole) {
    if (!(whole > 0)) {
      return "–";
    }
    const p = (100 * part) / whole;
    return (p >= 10 || p === 0 ? Math.round(p) : p.toFixed(1)) + "%";
  }

  // reason fills a trend's card: why it trends, from what the counter
  // says (the reason is absent from counters that do not give one).
  function reason(card, t, watermark) {
    const tag = card.querySelector(".reason-tag");
    tag.dir = "auto";
    tag.textContent = "#" + t.hashtag;
    card.querySelector(".reason-status").textContent = t.status
      ? t.status + (t.since ? ", trending since " + clock(t.since, watermark) + " UTC" : "")
      : "";
    const r = t.reason || null;
    const set = (cls, text) => {
      const item = card.querySelector("." + cls);
      item.hidden = !text;
      item.querySelector("dd").textContent = text || "";
    };
    set("r-authors", numbers.format(Math.round(t.observed)) + " distinct in the recent window, " + round(t.expected) +
      " expected from the baseline" + (t.expected > 0 ? " (" + round(t.observed / t.expected) + "×)" : ""));
    const perAuthor = r ? r.posts_per_author : (t.observed > 0 ? t.count / t.observed : 0);
    set("r-posts", numbers.format(t.count) + (perAuthor ? " · " + perAuthor.toFixed(2) + " per author" : ""));
    const buckets = card.querySelector(".r-buckets");
    const line = (r && r.authors_per_bucket) || [];
    buckets.hidden = line.length === 0;
    if (line.length) {
      bars(buckets.querySelector(".buckets"), line);
      buckets.querySelector(".buckets-note").textContent = "oldest first, at most " + Math.max(...line);
    }
    if (!r) {
      set("r-top", "");
      for (const cls of ["r-sources", "r-langs", "r-started"]) {
        parts(card.querySelector("." + cls), []);
      }
    } else {
      const covered = r.covered_posts || 0;
      set("r-top", covered > 0 ? percent(r.top_authors_share * covered, covered) + " of " + numbers.format(covered) + " posts" +
        (r.from ? " since " + clock(r.from, watermark) : "") +
        (r.top_authors_share_error > 0 ? " (at most " + percent(r.top_authors_share_error * covered, covered) + " over)" : "") : "");
      parts(card.querySelector(".r-sources"), mix(r.sources, covered));
      parts(card.querySelector(".r-langs"), mix(r.langs, covered));
      parts(card.querySelector(".r-started"), started(r.started || []));
    }
    set("r-peak", t.peak ? scores.format(t.peak) + (t.peak_at ? " at " + clock(t.peak_at, watermark) : "") +
      (t.status === "cooling" && t.decayed ? ", decayed to " + scores.format(t.decayed) : "") : "");
  }

  // parts writes a list of [name, figure] into item's dd, each name in a
  // <bdi> of its own (the names come from the counter's records), joined
  // by " · "; an empty list hides the item.
  function parts(item, list) {
    item.hidden = list.length === 0;
    const dd = item.querySelector("dd");
    dd.replaceChildren();
    list.forEach(([name, figure], i) => {
      if (i > 0) {
        dd.append(" · ");
      }
      const b = document.createElement("bdi");
      b.dir = "auto";
      b.textContent = name;
      dd.append(b, " " + figure);
    });
  }

  // mix is posts per network or language as shares, most first.
  function mix(shares, covered) {
    if (!shares || !shares.length) {
      return [];
    }
    const whole = covered > 0 ? covered : shares.reduce((n, s) => n + s.posts, 0);
    const shown = shares.slice(0, 5).map((s) => [s.name, percent(s.posts, whole)]);
    const rest = shares.slice(5).reduce((n, s) => n + s.posts, 0);
    if (rest > 0) {
      shown.push(["others", percent(rest, whole)]);
    }
    return shown;
  }

  // started is where the tag began to trend, earliest first, each later
  // network with how long after the first.
  function started(starts) {
    if (!starts.length) {
      return [];
    }
    const first = new Date(starts[0].since).getTime();
    return starts.map((s, i) => {
      let out = clock(s.since, starts[0].since);
      const after = Math.round((new Date(s.since).getTime() - first) / 60000);
      if (i > 0 && after > 0) {
        out += " (+" + after + " min)";
      }
      return [s.network, out];
    });
  }

  // bars draws authors per bucket as columns.
  function bars(svg, line) {
    svg.replaceChildren();
    const most = Math.max(1, ...line);
    const w = 100 / line.length;
    line.forEach((n, i) => {
      const h = Math.max(n > 0 ? 1 : 0, (n / most) * 22);
      const r = document.createElementNS(svgNS, "rect");
      r.setAttribute("x", (i * w + w * 0.1).toFixed(2));
      r.setAttribute("width", (w * 0.8).toFixed(2));
      r.setAttribute("y", (24 - h).toFixed(2));
      r.setAttribute("height", h.toFixed(2));
      svg.appendChild(r);
    });
  }

  function fromTemplate(id) {
    return $(id).content.firstElementChild.cloneNode(true);
  }

  // fill sets a row's rank, hashtag and bar (share: 0..1).
  function fill(row, rank, hashtag, share) {
    row.querySelector(".rank").textContent = String(rank);
    const tag = row.querySelector(".tag");
    tag.dir = "auto";
    tag.textContent = "#" + hashtag;
    tag.title = "#" + hashtag;
    row.querySelector(".fill").style.width = (Math.max(0, Math.min(1, share)) * 100).toFixed(1) + "%";
  }

  // spark draws posts per window as a line; windows the snapshots do not
  // tell (null) leave a gap.
  function spark(svg, line) {
    const most = Math.max(1, ...line.filter((n) => n !== null));
    const step = line.length > 1 ? 100 / (line.length - 1) : 0;
    const y = (n) => (22 - (n / most) * 20).toFixed(2);
    let run = [];
    const flush = () => {
      if (run.length > 1) {
        const p = document.createElementNS(svgNS, "polyline");
        p.setAttribute("points", run.join(" "));
        svg.appendChild(p);
      } else if (run.length === 1) {
        const [cx, cy] = run[0].split(",");
        const c = document.createElementNS(svgNS, "circle");
        c.setAttribute("cx", cx);
        c.setAttribute("cy", cy);
        c.setAttribute("r", "1.5");
        svg.appendChild(c);
      }
      run = [];
    };
    line.forEach((n, i) => {
      if (n === null) {
        flush();
      } else {
        run.push((i * step).toFixed(2) + "," + y(n));
      }
    });
    flush();
  }

  // A tap (or Enter) on a trend opens its reason and closes any other; a
  // second tap, Escape or a tap elsewhere closes it. Hover and keyboard
  // focus show it too (style.css).
  function toggle(row) {
    const open = !row.classList.contains("open");
    for (const r of $("trending").querySelectorAll("li.open")) {
      r.classList.remove("open");
    }
    row.classList.toggle("open", open);
    openKey = open ? row.dataset.key : null;
  }
  $("trending").addEventListener("click", (e) => {
    const row = e.target.closest("li.trend");
    if (row) {
      toggle(row);
    }
  });
  $("trending").addEventListener("keydown", (e) => {
    const row = e.target.closest("li.trend");
    if (row && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      toggle(row);
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && openKey !== null) {
      const row = $("trending").querySelector("li.open");
      if (row) {
        toggle(row);
      }
    }
  });
  document.addEventListener("click", (e) => {
    if (openKey !== null && !e.target.closest("#trending")) {
      const row = $("trending").querySelector("li.open");
      if (row) {
        toggle(row);
      }
    }
  });

  for (const id of ["pick-network", "pick-language"]) {
    $(id).addEventListener("change", () => choose(picked()));
  }
  window.addEventListener("hashchange", () => choose(facetFromHash()));

  document.body.dataset.facet = chosen;
  $("facet").textContent = chosen;
  connect();
  setInterval(tick, 500);
})();
