// The mentor's dashboard: one GraphQL request per change of the controls, drawn with plain
// DOM and SVG. Text is always set with textContent, never parsed as HTML.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const script = document.currentScript;
  const mentorId = JSON.parse(script.dataset.mentor).id;
  const form = document.getElementById("controls");
  const status = document.getElementById("status");
  const problem = document.getElementById("problem");
  const updated = document.getElementById("updated");
  const live = document.getElementById("live");
  const LEVEL_COLORS = ["#ebedf0", "#9be9a8", "#40c463", "#30a14e", "#216e39"];
  const DOCUMENT_ID = script.dataset.document; // the dashboard's query (documents/dashboard.graphql)
  const WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"];

  function el(name, attributes, text) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function plural(count, one, many) { return `${count} ${count === 1 ? one : many}`; }

  // --- the controls and the URL ---------------------------------------------------------
  function readControls() {
    const values = Object.fromEntries(new FormData(form).entries());
    const variables = { id: mentorId };
    if (values.period === "CUSTOM") {
      variables.period = "CUSTOM";
      variables.startDate = values.start_date || null;
      variables.endDate = values.end_date || null;
    } else {
      variables.period = values.period;
    }
    variables.asOf = values.as_of || null;
    variables.tz = values.tz || null;
    variables.compare = values.compare || null;
    const resting = new FormData(form).getAll("rest_days");
    variables.restDays = resting.length ? resting : null;
    return variables;
  }

  // Why a comparison asked for cannot be made (SPEC section 17), or null: an all-time window
  // has nothing before it, and no earlier window starts before 1900.
  function noComparison(variables) {
    if (!variables.compare) return "No comparison: switched off.";
    if (variables.period === "ALL_TIME") {
      return "No comparison: an all-time window has no earlier period to compare with.";
    }
    const day = (text) => new Date(`${text}T00:00:00Z`);
    const asOf = variables.asOf ? day(variables.asOf) : new Date();
    const end = variables.period === "CUSTOM" ? day(variables.endDate) : asOf;
    let start = variables.period === "CUSTOM" ? day(variables.startDate) : new Date(asOf);
    const trailing = { LAST_7_DAYS: 7, LAST_30_DAYS: 30, LAST_90_DAYS: 90, LAST_365_DAYS: 365 };
    if (trailing[variables.period]) start.setUTCDate(start.getUTCDate() - trailing[variables.period] + 1);
    if (variables.period === "MONTH_TO_DATE") start.setUTCDate(1);
    if (variables.period === "YEAR_TO_DATE") start = new Date(Date.UTC(asOf.getUTCFullYear(), 0, 1));
    const earlier = new Date(start);
    if (variables.compare === "YEAR_OVER_YEAR" || variables.period === "YEAR_TO_DATE") {
      earlier.setUTCFullYear(earlier.getUTCFullYear() - 1);
    } else if (variables.period === "MONTH_TO_DATE") {
      earlier.setUTCMonth(earlier.getUTCMonth() - 1);
    } else {
      earlier.setUTCDate(earlier.getUTCDate() - (Math.round((end - start) / 86400000) + 1));
    }
    if (earlier < day("1900-01-01")) {
      return "No comparison: the earlier period would start before 1 January 1900.";
    }
    return null;
  }

  function showCustomFields() {
    const custom = form.period.value === "CUSTOM";
    for (const field of form.querySelectorAll(".custom")) field.hidden = !custom;
  }

  function restoreFromUrl() {
    const query = new URLSearchParams(location.search);
    const period = (query.get("period") || "").toUpperCase();
    if (period && [...form.period.options].some((o) => o.value === period)) form.period.value = period;
    if (query.get("start_date") || query.get("end_date")) form.period.value = "CUSTOM";
    form.start_date.value = query.get("start_date") || "";
    form.end_date.value = query.get("end_date") || "";
    form.as_of.value = query.get("as_of") || "";
    form.tz.value = query.get("tz") || "";
    const resting = (query.get("rest_days") || "").toUpperCase().split(",");
    for (const box of form.querySelectorAll("input[name=rest_days]")) box.checked = resting.includes(box.value);
    if (query.has("compare")) {
      const compare = (query.get("compare") || "").toUpperCase();
      form.compare.value = [...form.compare.options].some((o) => o.value === compare) ? compare : "";
    }
  }

  function rememberInUrl(variables) {
    const query = new URLSearchParams();
    if (variables.period === "CUSTOM") {
      if (variables.startDate) query.set("start_date", variables.startDate);
      if (variables.endDate) query.set("end_date", variables.endDate);
    } else if (variables.period !== "LAST_30_DAYS") {
      query.set("period", variables.period.toLowerCase());
    }
    if (variables.asOf) query.set("as_of", variables.asOf);
    if (variables.tz) query.set("tz", variables.tz);
    if (variables.compare !== "PREVIOUS_PERIOD") {
      query.set("compare", (variables.compare || "none").toLowerCase());
    }
    if (variables.restDays) query.set("rest_days", variables.restDays.map((d) => d.toLowerCase()).join(","));
    const search = query.toString();
    history.replaceState(null, "", location.pathname + (search ? `?${search}` : ""));
  }

  // --- fetching -------------------------------------------------------------------------
  let latest = 0;
  let controller = null;

  async function load(reason) {
    const variables = readControls();
    if (variables.period === "CUSTOM" && !(variables.startDate && variables.endDate)) {
      showProblem("Choose both dates of the custom period.");
      return;
    }
    const why = noComparison(variables);
    const asked = { ...variables, compare: why ? null : variables.compare };
    const request = ++latest;
    if (controller) controller.abort();
    controller = new AbortController();
    status.textContent = reason === "event" ? "New data: updating…" : "Loading…";
    document.body.dataset.state = "loading";
    try {
      // By its id, with GET: the browser keeps the answer and asks with its ETag next time.
      const url = "/graphql?" + new URLSearchParams({ documentId: DOCUMENT_ID, variables: JSON.stringify(asked) });
      const response = await fetch(url, {
        headers: { Accept: "application/graphql-response+json, application/json;q=0.9" },
        signal: controller.signal,
      });
      const body = await response.json();
      if (request !== latest) return;
      if (body.errors && body.errors.length) {
        showProblem(body.errors.map(describeError).join(" "));
        return;
      }
      problem.hidden = true;
      rememberInUrl(variables);
      render(body.data.mentor, why);
      const version = body.extensions && body.extensions.dataVersion;
      document.body.dataset.version = version;
      status.textContent = reason === "event" ? "Figures updated with new data." : "Figures updated.";
      updated.textContent = `Last updated ${new Date().toLocaleTimeString()}`;
      document.body.dataset.state = "ready";
      follow(version);
    } catch (error) {
      if (error.name === "AbortError") return;
      showProblem("The service could not be reached. Try again in a moment.");
    }
  }

  // --- live updates ---------------------------------------------------------------------
  // The mentor's event stream, opened once after the first read: from that read's data
  // version, so a write in between is not missed. Each event is one new request (the
  // service throttles them); the browser reconnects by itself, from the last event's id.
  let events = null;

  function follow(version) {
    if (events || typeof version !== "number" || !window.EventSource) return;
    const url = `/api/v1/personal-stats/${encodeURIComponent(mentorId)}/events?last_event_id=${version}`;
    events = new EventSource(url);
    events.addEventListener("open", () => { live.textContent = "· Live: the figures follow new data."; });
    events.addEventListener("error", () => {
      if (events.readyState !== EventSource.CLOSED) live.textContent = "· Live updates paused: reconnecting…";
    });
    events.addEventListener("stats-changed", () => load("event"));
    events.addEventListener("mentor-erased", () => {
      events.close();
      live.textContent = "";
      showProblem("This mentor's records have been erased.");
    });
  }

  function describeError(error) {
    const details = (error.extensions && error.extensions.errors) || [];
    if (!details.length) return error.message;
    return details.map((d) => `${d.param}: ${d.message}.`).join(" ");
  }

  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = false;
    status.textContent = "";
    document.body.dataset.state = "problem";
  }

  // --- drawing --------------------------------------------------------------------------
  function render(mentor, why) {
    document.getElementById("mentor-name").textContent = mentor.name;
    renderSummary(mentor.personalStats, why);
    renderTrend(mentor.monthlySeries.data);
    renderBreakdown(mentor.activityBreakdown.data);
    renderCalendar(mentor.contributionCalendar);
    renderHistory(mentor.contributionHistory.data);
    renderRecords(mentor.personalRecords);
  }

  const FORMATS = {
    completionRate: (v) => (v === null ? "—" : `${(v * 100).toFixed(1)} %`),
    totalHoursLogged: (v) => `${v} h`,
    avgSessionDurationMinutes: (v) => (v === null ? "—" : `${v} min`),
    mostCommonActivityType: (v) => (v === null ? "—" : v.replaceAll("_", " ")),
    mostActiveWeekday: (v) => (v === null ? "—" : v),
    streakDays: (v) => plural(v, "day", "days"),
    longestStreakDays: (v) => plural(v, "day", "days"),
    weeklyStreakWeeks: (v) => plural(v, "week", "weeks"),
    activeDays: (v) => plural(v, "day", "days"),
    peerRankPercentile: (v) => (v === null ? "no peers" : `${v}th percentile`),
  };

  // Each figure's entry in `change`, and how it reads: a percentage, or points of a rate.
  const CHANGES = {
    totalActivities: ["totalActivitiesPct", "percent"],
    completedActivities: ["completedActivitiesPct", "percent"],
    activeDays: ["activeDaysPct", "percent"],
    totalHoursLogged: ["totalHoursLoggedPct", "percent"],
    avgSessionDurationMinutes: ["avgSessionDurationMinutesPct", "percent"],
    completionRate: ["completionRateDelta", "rate"],
    peerRankPercentile: ["peerRankPercentileDelta", "points"],
  };

  // A change in words (an arrow beside them for those who see it; never colour alone).
  function describeChange(value, kind) {
    if (value === null) return ["", "new"];
    const amount = kind === "rate" ? Math.round(value * 1000) / 10 : value;
    if (amount === 0) return ["", "no change"];
    const size = Math.abs(amount);
    const words = kind === "percent" ? `${size.toFixed(1)} %` : `${size} ${size === 1 ? "point" : "points"}`;
    return amount > 0 ? ["↑", `up ${words}`] : ["↓", `down ${words}`];
  }

  function inWords(text) {
    return new Date(`${text}T00:00:00Z`).toLocaleDateString("en-GB", {
      weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  }

  function renderSummary(s, why) {
    document.getElementById("window").textContent =
      `${s.startDate} to ${s.endDate} · ${s.timezone}`;
    const comparison = s.comparison;
    const against = comparison && (comparison.compare === "YEAR_OVER_YEAR"
      ? "the same dates a year earlier" : "the previous period");
    for (const dd of document.querySelectorAll("#summary dd")) {
      const field = dd.dataset.field;
      const value = s[field];
      dd.dataset.value = value === null ? "" : String(value);
      dd.textContent = (FORMATS[field] || String)(value);
      if (comparison && CHANGES[field]) {
        const [key, kind] = CHANGES[field];
        const change = comparison.change[key];
        const [arrow, words] = describeChange(change, kind);
        const note = el("span", { class: "change", "data-change": change === null ? "" : String(change) });
        if (arrow) note.append(el("span", { "aria-hidden": "true" }, `${arrow} `));
        note.append(`${words}`, el("span", { class: "visually-hidden" }, ` on ${against}`));
        dd.append(" ", note);
      }
    }
    document.getElementById("compared").textContent = comparison
      ? `Changes are against ${against}: ${inWords(comparison.startDate)} to ` +
        `${inWords(comparison.endDate)}.`
      : why || "";
    const streak = s.streakDays === 0
      ? `No current streak: no completed activity on ${s.endDate} or the day before.`
      : `${plural(s.streakDays, "day", "days")} in a row with a completed activity, counting back from ` +
        `${s.endDate} (a day without one yet does not break the streak). ` +
        `Weekly: ${plural(s.weeklyStreakWeeks, "week", "weeks")} in a row (Monday to Sunday) with one.`;
    const resting = s.restDays
      ? ` Rest days (${s.restDays.map(dayName).join(", ")}) without a completed activity are passed over.`
      : "";
    document.getElementById("explain-streak").textContent = streak + resting;
    const rank = s.peerRankPercentile === null
      ? "No peer rank: this is the only mentor."
      : `Peer rank ${s.peerRankPercentile}: that share (in %) of the other mentors completed fewer ` +
        `activities in this window (those with as many count half). 100 is the top.`;
    document.getElementById("explain-rank").textContent = rank;
  }

  function dayName(weekday) { return weekday.charAt(0) + weekday.slice(1, 3).toLowerCase(); }

  function shortDate(text) {
    return new Date(`${text}T00:00:00Z`).toLocaleDateString("en-GB", {
      day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  }

  // Each record's figure, and the detail under it (its date, its run), or "—" when none.
  const RECORDS = {
    bestDay: (r) => [plural(r.completedActivities, "activity", "activities"), shortDate(r.date)],
    bestWeek: (r) => [plural(r.completedActivities, "activity", "activities"), `week of ${shortDate(r.weekStart)}`],
    bestMonth: (r) => [plural(r.completedActivities, "activity", "activities"), `${MONTHS[r.month - 1]} ${r.year}`],
    mostHoursMonth: (r) => [`${r.totalHours} h`, `${MONTHS[r.month - 1]} ${r.year}`],
    longestStreak: (r) => [plural(r.days, "day", "days"), `${shortDate(r.startDate)} to ${shortDate(r.endDate)}`],
    longestWeeklyStreak: (r) => [plural(r.weeks, "week", "weeks"),
                                 `weeks of ${shortDate(r.startWeek)} to ${shortDate(r.endWeek)}`],
    completedActivities: (v, all) => [String(v), all.firstActivityDate
      ? `since ${shortDate(all.firstActivityDate)}` : "no activity yet"],
    nextMilestone: (r) => (r === null ? ["all reached", "10,000 completed and more"]
      : [`${r.completedActivities.toLocaleString("en")} completed`, `${r.remaining.toLocaleString("en")} to go`]),
  };

  function renderRecords(records) {
    document.getElementById("records-window").textContent = `all history to ${records.asOf}`;
    for (const dd of document.querySelectorAll("#records dd")) {
      const field = dd.dataset.field;
      const value = records[field];
      dd.replaceChildren();
      dd.dataset.value = value === null ? "" : JSON.stringify(value);
      if (value === null && field !== "nextMilestone") { dd.textContent = "—"; continue; }
      const [figure, detail] = RECORDS[field](value, records);
      dd.append(figure, el("span", { class: "detail" }, detail));
    }
    const list = document.getElementById("milestones");
    list.replaceChildren();
    if (!records.milestones.length) list.append(el("li", {}, "None yet: the first completed activity is the first."));
    for (const m of records.milestones) {
      // Every milestone but the first ends in 0 or 5: "th".
      const nth = m.completedActivities === 1 ? "1st" : `${m.completedActivities.toLocaleString("en")}th`;
      list.append(el("li", { "data-count": m.completedActivities }, `${nth} completed: ${shortDate(m.date)}`));
    }
  }

  function renderTrend(months) {
    const holder = document.getElementById("trend");
    holder.replaceChildren();
    const width = 640, height = 220, left = 36, bottom = 36, top = 14;
    const most = Math.max(1, ...months.map((m) => m.totalActivities));
    const step = (width - left - 8) / months.length;
    const label = months.map((m) => `${m.monthLabel}: ${m.totalActivities} (${m.completedActivities} completed)`);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
                               "aria-label": `Activities per month. ${label.join("; ")}` });
    const scale = (value) => ((height - top - bottom) * value) / most;
    for (const tick of [0, Math.ceil(most / 2), most]) {
      const y = height - bottom - scale(tick);
      chart.append(svg("line", { x1: left, x2: width - 4, y1: y, y2: y, stroke: "#d1d9e0" }));
      chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, String(tick)));
    }
    months.forEach((m, i) => {
      const x = left + i * step + step * 0.15, w = step * 0.7;
      const all = scale(m.totalActivities), done = scale(m.completedActivities);
      const bar = svg("rect", { x, y: height - bottom - all, width: w, height: all, fill: "#9be9a8" });
      bar.append(svg("title", {}, label[i]));
      chart.append(bar);
      chart.append(svg("rect", { x, y: height - bottom - done, width: w, height: done, fill: "#216e39" }));
      chart.append(svg("text", { x: x + w / 2, y: height - bottom + 16, "text-anchor": "middle", class: "axis" },
                       m.monthLabel.slice(0, 3)));
    });
    holder.append(chart);
    const legend = el("p", { class: "legend" });
    legend.append(el("span", { class: "swatch done" }), " completed ",
                  el("span", { class: "swatch all" }), " all activities");
    holder.append(legend);
  }

  function renderBreakdown(items) {
    const body = document.querySelector("#breakdown tbody");
    body.replaceChildren();
    if (!items.length) {
      const row = el("tr");
      row.append(el("td", { colspan: "5" }, "No activity in this window."));
      body.append(row);
    }
    for (const item of items) {
      const row = el("tr", { "data-type": item.activityTypeId });
      row.append(el("th", { scope: "row" }, item.activityTypeName));
      row.append(el("td", { "data-value": item.count }, String(item.count)));
      const share = el("td", { "data-value": item.percentage });
      const bar = el("span", { class: "bar", style: `width: ${Math.min(100, item.percentage)}%` });
      share.append(bar, ` ${item.percentage} %`);
      row.append(share);
      row.append(el("td", { "data-value": item.avgDurationMinutes ?? "" },
                    item.avgDurationMinutes === null ? "—" : `${item.avgDurationMinutes} min`));
      row.append(el("td", { "data-value": item.totalHours }, `${item.totalHours} h`));
      body.append(row);
    }
  }

  function renderCalendar(calendar) {
    const holder = document.getElementById("calendar");
    holder.replaceChildren();
    document.getElementById("calendar-caption").textContent =
      `${calendar.startDate} to ${calendar.endDate}: ${plural(calendar.totalActivities, "activity", "activities")}, ` +
      `${plural(calendar.activeDays, "active day", "active days")} (with a completed activity).`;
    const cell = 12, gap = 3, top = 18, left = 30;
    const first = new Date(`${calendar.startDate}T00:00:00Z`);
    const offset = calendar.days.length ? calendar.days[0].weekday - 1 : 0;
    const weeks = Math.ceil((calendar.days.length + offset) / 7);
    const width = left + weeks * (cell + gap), height = top + 7 * (cell + gap) + 4;
    const grid = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Activity per day from ${calendar.startDate} to ${calendar.endDate}; ` +
                    `${calendar.totalActivities} activities, busiest day ${calendar.maxCount}.` });
    ["Mon", "Wed", "Fri"].forEach((name, i) =>
      grid.append(svg("text", { x: 0, y: top + (2 * i) * (cell + gap) + 10, class: "axis" }, name)));
    let month = -1, lastLabel = -Infinity;
    calendar.days.forEach((day, i) => {
      const week = Math.floor((i + offset) / 7);
      const x = left + week * (cell + gap), y = top + (day.weekday - 1) * (cell + gap);
      const date = new Date(first.getTime() + i * 86400000);
      if (date.getUTCMonth() !== month && day.weekday === 1 && x - lastLabel >= 3 * (cell + gap)) {
        month = date.getUTCMonth();
        lastLabel = x;
        grid.append(svg("text", { x, y: 11, class: "axis" },
          date.toLocaleString("en", { month: "short", timeZone: "UTC" })));
      }
      const square = svg("rect", { x, y, width: cell, height: cell, rx: 2,
        fill: LEVEL_COLORS[day.level], "data-date": day.date, "data-count": day.count,
        "data-level": day.level });
      square.append(svg("title", {}, `${day.date}: ${plural(day.count, "activity", "activities")}`));
      grid.append(square);
    });
    holder.append(grid);
  }

  function renderHistory(years) {
    const table = document.getElementById("history");
    const head = table.tHead, body = table.tBodies[0];
    head.replaceChildren(); body.replaceChildren();
    const names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const headRow = el("tr");
    headRow.append(el("th", { scope: "col" }, "Year"));
    for (const name of names) headRow.append(el("th", { scope: "col" }, name));
    headRow.append(el("th", { scope: "col" }, "Total"));
    head.append(headRow);
    const most = Math.max(1, ...years.flatMap((y) => y.monthlyBreakdown.map((m) => m.count)));
    for (const year of years) {
      const row = el("tr", { "data-year": year.year });
      row.append(el("th", { scope: "row" }, String(year.year)));
      for (let month = 1; month <= 12; month++) {
        const found = year.monthlyBreakdown.find((m) => m.month === month);
        if (!found) { row.append(el("td", { class: "none" }, "")); continue; }
        const level = found.count === 0 ? 0 : Math.min(4, 1 + Math.floor((3.999 * found.count) / most));
        row.append(el("td", { class: `level-${level}`, "data-count": found.count,
                              title: `${names[month - 1]} ${year.year}: ${found.count}` }, String(found.count)));
      }
      row.append(el("td", { "data-value": year.totalActivities, class: "total" }, String(year.totalActivities)));
      body.append(row);
    }
  }

  // --- wiring ---------------------------------------------------------------------------
  restoreFromUrl();
  showCustomFields();
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  form.addEventListener("change", (event) => {
    if (event.target === form.period) showCustomFields();
    if (event.target === form.tz) return;  // typed names are sent with "Show"
    load();
  });
  load();
})();
