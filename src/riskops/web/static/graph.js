// riskops console: the link graph of the account page (cytoscape.js, vendored). It fetches
// the graph's elements from the console (/accounts/{id}/graph.json?hops=1|2) and draws
// accounts (circles) and the values they share (squares); clicking an account opens it.
// The linked-accounts table above the graph lists the same accounts for the keyboard.
(function () {
  "use strict";

  var STYLE = [
    { selector: "node", style: {
      "label": "data(label)", "font-size": 9, "text-valign": "bottom", "text-margin-y": 3,
      "text-max-width": 120, "text-wrap": "ellipsis", "color": "#1b1f24",
    } },
    { selector: "node[type = 'account']", style: {
      "shape": "ellipse", "width": 22, "height": 22, "background-color": "#8c959f",
    } },
    { selector: "node[type = 'account'][hop = 0]", style: {
      "background-color": "#0b5cad", "width": 30, "height": 30, "font-weight": "bold",
    } },
    { selector: "node[type = 'account'][?restricted]", style: {
      "background-color": "#a40e26", "border-width": 3, "border-color": "#ffe0e3",
    } },
    { selector: "node[type = 'value']", style: {
      "shape": "round-rectangle", "width": 14, "height": 14, "background-color": "#d0d7de",
      "font-size": 8, "color": "#57606a",
    } },
    { selector: "node[type = 'value'][?hub]", style: {
      "background-color": "#fff1c2", "border-width": 1, "border-color": "#7a4a00",
    } },
    { selector: "edge", style: {
      "width": 1, "line-color": "#afb8c1", "curve-style": "bezier",
    } },
    { selector: "edge[kind = 'transfer'], edge[kind = 'p2p'], edge[kind = 'referral']", style: {
      "line-style": "dashed", "line-color": "#0b5cad",
    } },
    { selector: "node:selected", style: { "border-width": 3, "border-color": "#0969da" } },
  ];

  function status(text) {
    var el = document.getElementById("graph-status");
    if (el) el.textContent = text;
  }

  function draw(container, hops) {
    var url = container.dataset.graphUrl + "?hops=" + hops;
    status("loading…");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the graph could not be loaded (" + response.status + ")");
        return response.json();
      })
      .then(function (graph) {
        var restricted = {};
        document.querySelectorAll("[data-account] .standing-restricted, [data-account] .standing-offboarded").forEach(function (el) {
          var row = el.closest("[data-account]");
          if (row) restricted[row.dataset.account] = true;
        });
        var nodes = graph.nodes.map(function (n) {
          if (n.data.type === "account" && restricted[n.data.account_id]) n.data.restricted = true;
          return n;
        });
        if (window.riskopsGraph) window.riskopsGraph.destroy();
        var cy = window.cytoscape({
          container: container,
          elements: { nodes: nodes, edges: graph.edges },
          style: STYLE,
          layout: { name: "preset" },
          minZoom: 0.2,
          maxZoom: 3,
        });
        cy.on("tap", "node[type = 'account']", function (event) {
          var id = event.target.data("account_id");
          if (id && id !== container.dataset.account) {
            window.location.href = "/accounts/" + encodeURIComponent(id);
          }
        });
        cy.on("tap", "node[type = 'value']", function (event) {
          var d = event.target.data();
          window.location.href = "/links?kind=" + encodeURIComponent(d.kind) + "&value=" + encodeURIComponent(d.value);
        });
        window.riskopsGraph = cy;
        var accounts = cy.nodes("[type = 'account']").length - 1;
        var text = accounts === 0 ? "no linked accounts" : accounts + " linked account" + (accounts === 1 ? "" : "s");
        var layout = cy.layout({
          name: nodes.length > 60 ? "concentric" : "cose", animate: false, padding: 20, randomize: false,
        });
        // ready once the nodes stand where they will stay (tests click them there)
        layout.one("layoutstop", function () {
          container.dataset.ready = String(hops);
          status(text + (graph.truncated ? " (more not shown)" : "") + " · " + (hops === 1 ? "one hop" : "two hops"));
        });
        layout.run();
      })
      .catch(function (err) { status(err.message); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("link-graph");
    if (!container || !window.cytoscape) return;
    var buttons = document.querySelectorAll("[data-graph-hops]");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
        draw(container, Number(button.dataset.graphHops));
      });
    });
    draw(container, 1);
  });
})();
