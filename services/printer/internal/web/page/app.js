// The printer's page: follows the printer's event stream and draws the
// latest snapshot. Every string from a snapshot goes into the page as text
// (textContent, setAttribute), never as markup, and every hashtag sits in
// its own <bdi dir="auto"> so that right-to-left spellings and direction
// overrides stay inside it.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const numbers = new Intl.NumberFormat("en-US");
  const svgNS = "http://www.w3.org/2000/svg";

  let receivedAt = null; // performance.now() when the printer got the shown snapshot
  let staleAfter = 6000; // ms, from the printer
  let batch = null;
  let ready = { ready: true };
  let connected = false;
  let source = null;

  function connect() {
    source = new EventSource("events");
    source.onopen = () => { connected = true; tick(); };
    source.onerror = () => {
      connected = false;
      tick();
      // The browser retries by itself after a network error, but gives up
      // after an HTTP error; then start over.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, 2000);
      }
    };
    source.addEventListener("status", (e) => {
      ready = JSON.parse(e.data);
      if (typeof ready.age_ms === "number") {
        receivedAt = performance.now() - ready.age_ms;
      }
      tick();
    });
    source.addEventListener("snapshot", (e) => {
      const v = JSON.parse(e.data);
      receivedAt = performance.now() - v.age_ms;
      staleAfter = v.stale_after_ms;
      draw(v);
      tick();
    });
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

  function draw(v) {
    const s = v.snapshot;
    batch = s.batch;
    $("window").textContent = "window " + utc(s.window_start) + " – " + utc(s.window_end) + " UTC";
    $("posts").textContent = numbers.format(s.posts);
    $("tagged").textContent = numbers.format(s.posts_with_hashtags);
    $("distinct").textContent = numbers.format(s.distinct_hashtags);
    $("batch").textContent = String(batch);

    const top = s.top || [];
    const most = Math.max(1, ...top.map((e) => e.count));
    let windows = 0;
    const rows = top.map((e) => {
      const row = fromTemplate("top-row");
      fill(row, e.rank, e.hashtag, e.count / most);
      row.querySelector(".count").textContent = numbers.format(e.count);
      const line = (v.series || {})[e.key] || [];
      windows = Math.max(windows, line.length);
      spark(row.querySelector(".spark"), line);
      return row;
    });
    $("top").replaceChildren(...rows);
    $("top-empty").hidden = rows.length > 0;
    $("windows").textContent = windows ? String(windows) : "–";

    const trending = s.trending;
    $("trending-panel").hidden = !Array.isArray(trending);
    if (Array.isArray(trending)) {
      const best = Math.max(1e-9, ...trending.map((t) => t.score));
      const trows = trending.map((t) => {
        const row = fromTemplate("trend-row");
        fill(row, t.rank, t.hashtag, t.score / best);
        row.querySelector(".score").textContent = "score " + t.score.toFixed(1);
        row.querySelector(".recent").textContent = numbers.format(t.count) + " posts · " +
          Math.round(t.observed) + " authors, " + Math.round(t.expected) + " expected";
        return row;
      });
      $("trending").replaceChildren(...trows);
      $("trending-empty").hidden = trows.length > 0;
    }
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

  connect();
  setInterval(tick, 500);
})();
