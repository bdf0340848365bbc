// gkextract pages: inlined into every page (no CDN, nothing fetched but the review API).
(function () {
  "use strict";

  // --- report page: highlighted quotes, their items, the table cells they were checked against
  var text = document.getElementById("report-text");
  var inspector = document.getElementById("inspector");
  if (text && inspector) {
    var pinned = null;
    var keysOf = function (mark) { return (mark.getAttribute("data-items") || "").split(" ").filter(Boolean); };
    var clearActive = function () {
      document.querySelectorAll(".active").forEach(function (el) { el.classList.remove("active"); });
    };
    var show = function (keys) {
      clearActive();
      inspector.innerHTML = "";
      keys.forEach(function (key) {
        var card = document.getElementById("item-" + key);
        if (!card) return;
        card.classList.add("active");
        var copy = card.cloneNode(true);
        copy.removeAttribute("id");
        copy.classList.remove("active");
        inspector.appendChild(copy);
        (card.getAttribute("data-cells") || "").split(" ").filter(Boolean).forEach(function (ref) {
          var cell = document.getElementById("cell-" + ref);
          if (cell) cell.classList.add("active");
        });
        document.querySelectorAll('mark.hl[data-items~="' + key + '"]').forEach(function (m) { m.classList.add("active"); });
      });
    };
    text.addEventListener("mouseover", function (e) {
      var mark = e.target.closest("mark.hl");
      if (mark && !pinned) show(keysOf(mark));
    });
    text.addEventListener("click", function (e) {
      var mark = e.target.closest("mark.hl");
      if (!mark) return;
      pinned = pinned === mark ? null : mark;
      inspector.classList.toggle("pinned", !!pinned);
      show(keysOf(mark));
      var first = document.getElementById("item-" + keysOf(mark)[0]);
      if (first) first.scrollIntoView({ block: "nearest" });
    });
    document.getElementById("items").addEventListener("click", function (e) {
      if (e.target.closest("a")) return;
      var card = e.target.closest(".card");
      if (!card) return;
      var key = card.getAttribute("data-key");
      pinned = card;
      inspector.classList.add("pinned");
      show([key]);
      var mark = document.querySelector('mark.hl[data-items~="' + key + '"]');
      if (mark) {
        mark.scrollIntoView({ block: "center" });
        mark.classList.remove("flash"); void mark.offsetWidth; mark.classList.add("flash");
      }
    });
    inspector.addEventListener("click", function (e) {   // the list of flagged items shown at first
      var a = e.target.closest("a[data-key]");
      if (!a) return;
      e.preventDefault();
      document.getElementById("item-" + a.getAttribute("data-key")).click();
    });
    document.querySelectorAll("td[data-items]").forEach(function (td) {
      td.addEventListener("click", function () { show(td.getAttribute("data-items").split(" ")); });
    });
    var hash = location.hash.match(/^#item-(\w+)$/);
    if (hash) { var c = document.getElementById("item-" + hash[1]); if (c) c.click(); }
  }

  // --- review queue: accept / correct / reject with the keyboard or the buttons
  var queue = document.getElementById("queue");
  if (queue) {
    var items = Array.prototype.slice.call(queue.querySelectorAll(".qitem"));
    var current = -1;
    var left = document.getElementById("left");
    var focus = function (i) {
      if (i < 0 || i >= items.length) return;
      if (current >= 0) items[current].classList.remove("current");
      current = i;
      items[i].classList.add("current");
      items[i].focus({ preventScroll: true });
      items[i].scrollIntoView({ block: "nearest" });
    };
    var next = function (from) {
      for (var i = from + 1; i < items.length; i++) if (!items[i].classList.contains("done")) return focus(i);
    };
    var say = function (item, message, ok) {
      var p = item.querySelector(".result");
      p.textContent = message;
      p.className = "result " + (ok ? "ok" : "bad");
    };
    var decide = function (item, decision, changes) {
      var body = { table: item.getAttribute("data-table"), id: Number(item.getAttribute("data-id")),
                   decision: decision, changes: changes || null, note: item.querySelector('input[name="note"]').value };
      return fetch("/api/review", { method: "POST", headers: { "Content-Type": "application/json" },
                                    body: JSON.stringify(body) })
        .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
        .then(function (res) {
          if (!res[0]) { say(item, res[1].error || "not recorded", false); return; }
          item.classList.add("done");
          item.querySelector(".correct").hidden = true;
          item.setAttribute("data-review-id", res[1].review_id);
          say(item, decision + " recorded (review #" + res[1].review_id + ", now " + res[1].review_status + ")", true);
          left.textContent = String(items.filter(function (x) { return !x.classList.contains("done"); }).length);
          next(items.indexOf(item));
        })
        .catch(function (err) { say(item, "not recorded: " + err, false); });
    };
    var openCorrect = function (item) {
      var form = item.querySelector(".correct");
      form.hidden = false;
      var first = form.querySelector("input, select");
      if (first) { first.focus(); if (first.select) first.select(); }
    };
    items.forEach(function (item, i) {
      item.addEventListener("click", function (e) {
        if (current !== i) focus(i);
        var b = e.target.closest("button");
        if (!b) return;
        if (b.getAttribute("data-decision") === "correct") openCorrect(item);
        else if (b.getAttribute("data-decision")) decide(item, b.getAttribute("data-decision"));
        else if (b.getAttribute("data-action") === "skip") next(i);
        else if (b.getAttribute("data-action") === "cancel") { item.querySelector(".correct").hidden = true; item.focus(); }
      });
      item.querySelector(".correct").addEventListener("submit", function (e) {
        e.preventDefault();
        var changes = {};
        e.target.querySelectorAll("input, select").forEach(function (el) { changes[el.name] = el.value; });
        decide(item, "correct", changes);
      });
    });
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || current < 0) return;
      var item = items[current];
      var typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName);
      if (typing) {
        if (e.key === "Escape") { item.querySelector(".correct").hidden = true; e.target.blur(); item.focus(); }
        return;
      }
      var k = e.key.toLowerCase();
      var open = !item.classList.contains("done");   // a decided item takes no second decision by key
      if (!open && (k === "a" || k === "r" || k === "c")) return;
      if (k === "a") decide(item, "accept");
      else if (k === "r") decide(item, "reject");
      else if (k === "c") { e.preventDefault(); openCorrect(item); }
      else if (k === "s" || k === "j" || e.key === "ArrowDown") { e.preventDefault(); next(current); }
      else if (k === "k" || e.key === "ArrowUp") { e.preventDefault(); focus(Math.max(0, current - 1)); }
      else return;
    });
    next(-1);
  }
})();
