// Cryptle's single-page app: vanilla JS, no dependencies. Everything shown
// is set with textContent, never parsed as HTML.
"use strict";

const WORD_LEN = 5;
const MAX_TRIES = 6;
const SESSION_KEY = "cryptle.session";
const POLL_MS = 4000;

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// ---- session ----

let session = null; // {player_id, name, token}
try {
  session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
} catch (_) {
  session = null;
}

function saveSession(s) {
  session = s;
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
}

// ---- API ----

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (session && session.token) headers["Authorization"] = "Bearer " + session.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  let data = null;
  try {
    data = await resp.json();
  } catch (_) {
    data = null;
  }
  if (!resp.ok) {
    if (resp.status === 401 && session) sessionLost();
    throw new APIError(resp.status, (data && data.error) || "HTTP " + resp.status);
  }
  return data;
}

function sessionLost() {
  saveSession(null);
  showJoin("Your session ended (did the keep restart?). Join again.");
}

// ---- attestation panel ----

function setText(id, text, cls) {
  const e = document.getElementById(id);
  e.textContent = text;
  e.className = e.classList.contains("hash") ? "hash" : "";
  if (cls) e.classList.add(cls);
}

// pick reads a field of the proxy's attestation answer, at the top or
// under "claims" or "evidence" (the answer's schema may group them), and
// returns undefined when none has it.
function pick(a, ...names) {
  for (const where of [a, a.claims, a.evidence]) {
    if (!where || typeof where !== "object") continue;
    for (const n of names) if (where[n] !== undefined && where[n] !== null) return where[n];
  }
  return undefined;
}

const TEE_NAMES = { tdx: "Intel TDX", snp: "AMD SEV-SNP", sgx: "Intel SGX", sim: "no TEE (simulated)" };

// attestationView turns the proxy's answer (or null when there is none)
// into what the panel says: a state, a short status and one plain
// sentence — what was checked, by whom, and what it does not guarantee.
function attestationView(a) {
  if (!a) {
    return {
      state: "unverified", status: "Not checked",
      summary: "Nobody has checked this server: open the game through your own keep proxy to have it verified. " +
        "Until then nothing is guaranteed — whoever runs the server could read the secret words.",
    };
  }
  const reasons = [].concat(pick(a, "reasons") || []).map(String);
  // The policy's verdict decides; simulated evidence is accepted only
  // when the policy allows it, and then said to guarantee nothing.
  const accepted = pick(a, "accepted", "policy_accepted") === true;
  const simulated = pick(a, "simulated") === true || String(pick(a, "tee") || "") === "sim";
  const debug = pick(a, "debug") === true;
  if (!accepted) {
    return {
      state: "refused", status: "Refused",
      summary: "Your keep proxy refused this server" + (reasons.length ? " (" + reasons.join("; ") + ")" : "") +
        ". Do not trust it with anything.",
    };
  }
  if (simulated) {
    return {
      state: "simulated", status: "SIMULATED — nothing is guaranteed",
      summary: "Your keep proxy checked that this server runs the Cryptle build your policy names, but it runs in a " +
        "simulated keep with no real TEE: nothing is guaranteed, and whoever runs the server could read the secret words.",
    };
  }
  const tee = TEE_NAMES[String(pick(a, "tee") || "")] || "a hardware TEE";
  if (debug) {
    return {
      state: "debug", status: "Debug mode — not private",
      summary: "Your keep proxy checked that this server runs the Cryptle build your policy names in " + tee +
        ", but in debug mode: whoever runs the machine can look inside, so the secret words are not private.",
    };
  }
  return {
    state: "trusted", status: "Verified by your keep proxy",
    summary: "Your keep proxy checked that this server runs exactly the Cryptle build your policy names, inside " + tee +
      " whose maker signs that report, so the secret words stay inside it. It does not prove that the game itself is " +
      "free of bugs, nor protect what you type on this computer.",
  };
}

async function loadAttestation() {
  let a = null;
  try {
    const resp = await fetch("/.well-known/keep-attestation", { cache: "no-store" });
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    a = await resp.json();
    if (!a || typeof a !== "object") throw new Error("not an object");
  } catch (_) {
    a = null;
  }
  const v = attestationView(a);
  const panel = $("#attestation");
  panel.dataset.state = v.state;
  panel.dataset.verified = String(v.state === "trusted" || v.state === "simulated");
  const status = $("#att-status");
  status.textContent = v.status;
  status.className = "att-status " + ({ trusted: "ok", simulated: "warn" }[v.state] || "bad");
  $("#att-summary").textContent = v.summary;
  if (!a) {
    for (const id of ["att-tee", "att-simulated", "att-policy", "att-module-hash", "att-config-hash",
      "att-measurements", "att-debug", "att-fingerprint", "att-not-pinned"]) {
      setText(id, "unknown");
    }
    return;
  }
  const accepted = pick(a, "accepted", "policy_accepted");
  const verified = pick(a, "verified") === true || accepted === true;
  const reasons = [].concat(pick(a, "reasons") || []).map(String);
  const tee = pick(a, "tee");
  const simulated = pick(a, "simulated");
  // Without verified evidence, the TEE fields say nothing.
  setText("att-tee", verified && tee ? String(tee) : "unknown");
  if (simulated === true) setText("att-simulated", "SIMULATED — not a real TEE", "bad");
  else if (verified && simulated === false) setText("att-simulated", "no (hardware TEE)", "good");
  else setText("att-simulated", "unknown");
  if (accepted === true) setText("att-policy", "accepted", "good");
  else if (accepted === false) {
    setText("att-policy", "REJECTED" + (reasons.length ? ": " + reasons.join("; ") : ""), "bad");
  } else setText("att-policy", "unknown");
  const moduleHash = pick(a, "module_hash");
  const configHash = pick(a, "config_hash");
  setText("att-module-hash", moduleHash ? String(moduleHash) : "unknown");
  setText("att-config-hash", configHash ? String(configHash) : "none");
  const ms = pick(a, "measurements");
  const m = ms && typeof ms === "object" ? Object.entries(ms) : [];
  setText("att-measurements", m.length ? m.map(([k, val]) => k + ": " + val).join("\n") : "none");
  const debug = pick(a, "debug");
  if (debug === true) setText("att-debug", "DEBUG — the TEE can be inspected", "bad");
  else if (verified && debug === false) setText("att-debug", "no");
  else setText("att-debug", "unknown");
  const fp = pick(a, "fingerprint");
  setText("att-fingerprint", fp ? String(fp) : "unknown");
  const np = [].concat(pick(a, "not_pinned") || []).map(String);
  setText("att-not-pinned", np.length ? np.join(", ") : "nothing");
}

// ---- join / leave ----

function showJoin(msg) {
  $("#join-section").hidden = false;
  $("#game").hidden = true;
  $("#whoami").hidden = true;
  $("#join-error").textContent = msg || "";
  $("#words").replaceChildren();
  $("#my-words").replaceChildren();
}

function showGame() {
  $("#join-section").hidden = true;
  $("#game").hidden = false;
  $("#whoami").hidden = false;
  $("#me-name").textContent = session.name;
}

$("#join-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("#join-name").value.trim();
  $("#join-error").textContent = "";
  if (!name) {
    $("#join-error").textContent = "Enter a name.";
    return;
  }
  $("#join-btn").disabled = true;
  try {
    const r = await api("POST", "/api/join", { name });
    saveSession({ player_id: r.player_id, name: r.name || name, token: r.token });
    showGame();
    await changed();
  } catch (e) {
    $("#join-error").textContent = e.message;
  } finally {
    $("#join-btn").disabled = false;
  }
});

$("#leave-btn").addEventListener("click", () => {
  saveSession(null);
  showJoin("");
  refreshScoreboard();
});

// ---- setting a word ----

$("#set-word-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("#word-input");
  const word = input.value.trim().toLowerCase();
  $("#set-word-error").textContent = "";
  if (!/^[a-z]{5}$/.test(word)) {
    $("#set-word-error").textContent = "A word is five letters a-z.";
    return;
  }
  $("#set-word-btn").disabled = true;
  try {
    await api("POST", "/api/words", { word });
    input.value = "";
    await changed();
  } catch (e) {
    $("#set-word-error").textContent = e.message;
  } finally {
    $("#set-word-btn").disabled = false;
  }
});

function renderMyWords(list) {
  const ul = $("#my-words");
  ul.replaceChildren(...list.map((w) => el("li", { dataset: { wordId: w.id } },
    el("span", { class: "secret", text: w.word }),
    el("span", { class: "word-summary", "data-testid": "word-summary", text: " — " + (w.summary || "") }))));
}

// ---- word cards ----

function makeCard(w) {
  const grid = el("div", { class: "grid" });
  for (let r = 0; r < MAX_TRIES; r++) {
    const row = el("div", { class: "row" });
    for (let c = 0; c < WORD_LEN; c++) row.append(el("div", { class: "tile" }));
    grid.append(row);
  }
  const input = el("input", {
    class: "guess-input", maxlength: String(WORD_LEN), placeholder: "guess",
    "aria-label": "Your guess", autocomplete: "off", "data-testid": "guess-input",
  });
  const guessBtn = el("button", { class: "guess-btn", type: "submit", text: "Guess", "data-testid": "guess-btn" });
  const giveUpBtn = el("button", { class: "giveup-btn secondary", type: "button", text: "Give up", "data-testid": "giveup-btn" });
  const form = el("form", { class: "guess-form", autocomplete: "off" }, input, guessBtn, giveUpBtn);
  const card = el("div", { class: "word-card", dataset: { wordId: w.id }, "data-testid": "word-card" },
    el("div", { class: "card-head" },
      el("span", { class: "owner", text: "by " + w.owner }),
      el("span", { class: "status", "data-testid": "status" })),
    grid, form, el("p", { class: "card-error error", role: "alert" }));
  card._state = w;

  input.addEventListener("input", () => {
    input.value = input.value.replace(/[^a-zA-Z]/g, "").slice(0, WORD_LEN);
    paintPending(card);
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const guess = input.value.trim().toLowerCase();
    const err = $(".card-error", card);
    err.textContent = "";
    if (!/^[a-z]{5}$/.test(guess)) {
      err.textContent = "A guess is five letters a-z.";
      return;
    }
    guessBtn.disabled = true;
    try {
      const r = await api("POST", "/api/guess", { word_id: w.id, guess });
      const st = card._state;
      st.guesses = (st.guesses || []).concat([{ guess, feedback: r.feedback }]);
      st.tries = r.tries;
      st.tries_left = r.tries_left;
      st.status = r.status;
      input.value = "";
      updateCard(card, st);
      changed();
    } catch (e) {
      err.textContent = e.message;
    } finally {
      guessBtn.disabled = card._state.status !== "playing";
    }
  });
  giveUpBtn.addEventListener("click", async () => {
    const st = card._state;
    if (st.status === "playing" && !confirm("Give up on this word? It counts as failed.")) return;
    try {
      const r = await api("POST", "/api/giveup", { word_id: w.id });
      st.status = r.status;
      st.gave_up = r.status === "failed";
      st.word = r.word;
      updateCard(card, st);
      changed();
    } catch (e) {
      $(".card-error", card).textContent = e.message;
    }
  });
  return card;
}

function paintPending(card) {
  const st = card._state;
  const n = (st.guesses || []).length;
  const rows = card.querySelectorAll(".row");
  if (st.status !== "playing" || n >= MAX_TRIES) return;
  const typed = $(".guess-input", card).value.toLowerCase();
  const tiles = rows[n].querySelectorAll(".tile");
  tiles.forEach((t, i) => {
    t.textContent = typed[i] || "";
    t.className = typed[i] ? "tile pending" : "tile";
  });
}

function updateCard(card, w) {
  card._state = w;
  card.dataset.status = w.status;
  const guesses = w.guesses || [];
  const rows = card.querySelectorAll(".row");
  rows.forEach((row, r) => {
    const g = guesses[r];
    row.querySelectorAll(".tile").forEach((t, i) => {
      if (g) {
        const colour = (g.feedback && g.feedback[i]) || "grey";
        t.textContent = g.guess[i] || "";
        t.className = "tile " + colour;
        t.dataset.state = colour;
      } else {
        t.textContent = "";
        t.className = "tile";
        delete t.dataset.state;
      }
    });
  });
  const status = $(".status", card);
  const input = $(".guess-input", card);
  const guessBtn = $(".guess-btn", card);
  const giveUpBtn = $(".giveup-btn", card);
  const playing = w.status === "playing";
  input.disabled = !playing;
  guessBtn.disabled = !playing;
  if (w.status === "solved") {
    status.textContent = "Solved!";
    status.className = "status solved";
    giveUpBtn.hidden = true;
  } else if (w.status === "failed") {
    status.className = "status failed";
    if (w.word) {
      status.textContent = "Failed — the word was " + w.word.toUpperCase();
      giveUpBtn.hidden = true;
    } else {
      status.textContent = "Out of tries";
      giveUpBtn.hidden = false;
      giveUpBtn.textContent = "Reveal word";
    }
  } else {
    const left = w.tries_left != null ? w.tries_left : MAX_TRIES - guesses.length;
    status.textContent = left + (left === 1 ? " try left" : " tries left");
    status.className = "status";
    giveUpBtn.hidden = false;
    giveUpBtn.textContent = "Give up";
  }
  paintPending(card);
}

function renderWords(list) {
  const box = $("#words");
  const existing = new Map();
  for (const c of box.querySelectorAll(".word-card")) existing.set(c.dataset.wordId, c);
  const cards = list.map((w) => {
    const card = existing.get(w.id) || makeCard(w);
    existing.delete(w.id);
    updateCard(card, w);
    return card;
  });
  for (const c of existing.values()) c.remove();
  // Append in order without recreating cards (keeps focus and typed text).
  cards.forEach((c, i) => {
    if (box.children[i] !== c) box.insertBefore(c, box.children[i] || null);
  });
  $("#no-words").hidden = list.length > 0;
}

// ---- scoreboard ----

function renderScoreboard(players) {
  const tbody = $("#scoreboard tbody");
  tbody.replaceChildren(...players.map((p, i) => {
    const tr = el("tr", { dataset: { playerId: p.player_id || "" } },
      el("td", { class: "num", text: String(i + 1) }),
      el("td", { class: "name", text: p.name }),
      el("td", { class: "num solved", text: String(p.solved || 0) }),
      el("td", { class: "num tries", text: String(p.tries || 0) }),
      el("td", { class: "num failed", text: String(p.failed || 0) }),
      el("td", { class: "num words-set", text: String(p.words_set || 0) }));
    if (session && p.player_id === session.player_id) tr.classList.add("me");
    return tr;
  }));
  if (!players.length) {
    tbody.append(el("tr", {}, el("td", { colspan: "6", class: "hint", text: "Nobody has joined yet." })));
  }
}

async function refreshScoreboard() {
  try {
    const r = await api("GET", "/api/scoreboard");
    renderScoreboard((r && r.players) || []);
  } catch (_) {
    // shown again at the next poll
  }
}

// ---- refresh loop ----

let refreshing = null;
let gen = 0; // bumped by every change we make, so a state fetched before it is dropped

async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      if (session) {
        try {
          const g = gen;
          const s = await api("GET", "/api/state");
          if (session && g === gen) {
            renderWords(s.words || []);
            renderMyWords(s.my_words || []);
          }
        } catch (_) {
          // 401 is handled in api(); others retry at the next poll
        }
      }
      await refreshScoreboard();
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

// changed records a change of ours and refreshes after any refresh in flight.
function changed() {
  gen++;
  return refreshing ? refreshing.then(refresh) : refresh();
}

if (session && session.token) showGame();
else showJoin("");
loadAttestation();
setInterval(loadAttestation, 30000);
refresh();
setInterval(() => {
  if (!document.hidden) refresh();
}, POLL_MS);
