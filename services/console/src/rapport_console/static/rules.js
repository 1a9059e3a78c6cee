// What each alliance-monitor rule looks at, in plain words, at the default thresholds (DOMAIN.md).
// Generated from the rule declarations: change those, not this file, then run
//   .venv/bin/python -m rapport_alliance_monitor.rule_artefacts
"use strict";
const RuleTexts = Object.freeze({
  "early-low-alliance": "A session rating below 36 in one of the first three sessions, when clients most often stop coming.",
  "srs-below-cutoff": "The session rating was below 36 of 40, where the alliance may need attention.",
  "srs-item-low": "The total was fine, but one session-rating item was below 8 of 10.",
  "srs-drop": "The session rating fell 3 or more points from the previous one.",
  "srs-ceiling": "The last three session ratings were all 40 of 40; it may help to invite more candid feedback.",
  "ors-deterioration": "The outcome rating is 5 or more points below the intake baseline.",
  "ors-not-improving": "From session 4 on, the outcome rating has not yet moved 5 points above the baseline.",
  "attendance-withdrawal": "The last two sessions were missed or cancelled late by the client.",
  "pulse-low": "The client's in-session check-in was 2 or lower on a 1–5 scale.",
  "withdrawal-telemetry": "Video signals over the last minutes (camera, share of talk, silences) that can accompany withdrawal.",
  "live-overrun": "The session is running well past its scheduled end.",
  "overrun-pattern": "Several recent sessions ended 10 minutes or more after their scheduled end.",
  "off-hours-contact": "Several messages were sent outside working hours within a week.",
  "off-platform-contact": "A message may move contact or payment off the platform.",
  "consent-violation": "Something happened without the consent it needs.",
});
