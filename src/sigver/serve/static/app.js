// The page of `sigver serve`: plain JavaScript over the JSON API (no build step).
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
let apiKey = sessionStorage.getItem("sigver-key") || "";

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").className = isError ? "message error" : "message";
}

async function call(method, path, body) {
  const options = { method, headers: { "X-API-Key": apiKey } };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, options);
  const data = await response.json();
  if (!response.ok) {
    throw new Error(data.error ? data.error.message : response.statusText);
  }
  return data;
}

// Images need the key too: fetch them and show them as local object URLs.
async function showImage(img, url) {
  const response = await fetch(url, { headers: { "X-API-Key": apiKey } });
  if (response.ok) {
    img.src = URL.createObjectURL(await response.blob());
  }
}

function thumb(url, caption) {
  const figure = document.createElement("figure");
  const img = document.createElement("img");
  img.alt = caption;
  showImage(img, url);
  const text = document.createElement("figcaption");
  text.textContent = caption;
  figure.append(img, text);
  return figure;
}

function person() {
  return $("person-select").value;
}

async function signIn() {
  apiKey = $("api-key").value.trim() || apiKey;
  try {
    const health = await call("GET", "/health");
    sessionStorage.setItem("sigver-key", apiKey);
    $("role").textContent = `signed in (${health.role})`;
    document.body.classList.toggle("hidden-role", health.role !== "admin");
    say("");
    await loadPersons();
  } catch (error) {
    $("role").textContent = "not signed in";
    say(error.message, true);
  }
}

async function loadPersons(select) {
  const persons = await call("GET", "/persons");
  const list = $("person-select");
  const keep = select !== undefined ? select : list.value;
  list.innerHTML = '<option value="">(choose a person)</option>';
  for (const p of persons) {
    const option = document.createElement("option");
    option.value = p.name;
    option.textContent = `${p.name} (${p.references} references)`;
    list.append(option);
  }
  list.value = persons.some((p) => p.name === keep) ? keep : "";
  await showPerson();
}

async function showPerson() {
  const name = person();
  $("references").innerHTML = "";
  $("person-info").textContent = "";
  $("result").hidden = true;
  if (!name) return;
  const detail = await call("GET", `/persons/${encodeURIComponent(name)}`);
  const how = detail.method === "wd" ? "personal model (WD)" : "general model (WI)";
  $("person-info").textContent =
    `${detail.references.length} reference(s); verified with the ${how}`;
  for (const ref of detail.references) {
    $("references").append(thumb(ref.image_url, ref.file));
  }
}

async function createPerson() {
  const name = $("new-person").value.trim();
  if (!name) return say("Type the new person's id first.", true);
  try {
    await call("POST", "/persons", { name });
    $("new-person").value = "";
    say(`Added ${name}.`);
    await loadPersons(name);
  } catch (error) { say(error.message, true); }
}

async function deletePerson() {
  const name = person();
  if (!name || !confirm(`Delete ${name} and all their references?`)) return;
  try {
    await call("DELETE", `/persons/${encodeURIComponent(name)}`);
    say(`Deleted ${name}.`);
    await loadPersons("");
  } catch (error) { say(error.message, true); }
}

async function uploadReferences() {
  const name = person();
  const files = $("reference-files").files;
  if (!name) return say("Choose a person first.", true);
  if (!files.length) return say("Choose reference images first.", true);
  const form = new FormData();
  for (const file of files) form.append("files", file);
  say("Enrolling...");
  try {
    const result = await call("POST", `/persons/${encodeURIComponent(name)}/references`,
                              form);
    say(`Enrolled ${result.added.length} reference(s) for ${name}` +
        (result.already_enrolled.length ?
         ` (${result.already_enrolled.length} already enrolled)` : "") + ".");
    $("reference-files").value = "";
    await loadPersons(name);
  } catch (error) { say(error.message, true); }
}

function drawBar(score, threshold) {
  // The bar spans the threshold +- a margin wide enough to show the score.
  const half = Math.max(1, 1.25 * Math.abs(score - threshold));
  const low = threshold - half;
  const position = (v) => Math.min(100, Math.max(0, (100 * (v - low)) / (2 * half)));
  const fill = $("bar-fill");
  fill.style.width = `${position(score)}%`;
  fill.className = score >= threshold ? "fill genuine" : "fill forgery";
  $("bar-threshold").style.left = `calc(${position(threshold)}% - 1px)`;
}

async function verify() {
  const name = person();
  const file = $("questioned-file").files[0];
  if (!name) return say("Choose a person first.", true);
  if (!file) return say("Choose the questioned signature image first.", true);
  const form = new FormData();
  form.append("files", file);
  form.append("method", $("method").value);
  if ($("threshold").value !== "") form.append("threshold", $("threshold").value);
  say("Verifying...");
  try {
    const answer = await call("POST", `/persons/${encodeURIComponent(name)}/verify`, form);
    const r = answer.results[0];
    say("");
    $("result").hidden = false;
    $("decision").textContent = r.decision === "genuine" ? "GENUINE" : "FORGERY";
    $("decision").className = `decision ${r.decision}`;
    drawBar(r.score, r.threshold);
    const how = r.method === "wd" ? "personal model (WD)" : "general model (WI)";
    $("score-text").textContent = `score ${r.score.toFixed(3)}, threshold ` +
      `${r.threshold.toFixed(3)} (${how}); scores at or above the threshold are genuine` +
      (r.is_reference ? ". Note: this file is one of the references." : "");
    await showImage($("questioned-image"), r.image_url);
    $("result-references").innerHTML = "";
    for (const ref of r.reference_scores) {
      $("result-references").append(thumb(ref.image_url, ref.score.toFixed(3)));
    }
  } catch (error) { say(error.message, true); }
}

$("save-key").addEventListener("click", signIn);
$("api-key").addEventListener("keydown", (e) => { if (e.key === "Enter") signIn(); });
$("person-select").addEventListener("change", () => showPerson().catch((e) => say(e.message, true)));
$("create-person").addEventListener("click", createPerson);
$("delete-person").addEventListener("click", deletePerson);
$("upload-references").addEventListener("click", uploadReferences);
$("verify").addEventListener("click", verify);
if (apiKey) signIn();
