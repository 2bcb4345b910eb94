# policies/national-security-safeguards.yaml translated by hand into Rego v1, rule for
# rule (same ids, same order), with the output of DESIGN.md §6:
#
#   input    = the validated request with its defaults filled in (absent optional
#              fields are null)
#   data     = {"lists": {"denied_entities": {"<name>": true, ...}}}, built from
#              policies/lists/denied-entities.txt
#   decision = {"decision": "allow"|"deny", "determining_rule": id or null,
#               "matched_rules": [ids, in policy order]}
#
# Each matching rule adds [rank, id, effect] to `matched`; sorting by rank gives policy
# order. Ranks are fixed-width text ("b00".."b11" here; rules generated before these, as
# in the 1000-rule benchmark, use "a0000".."a0999"): rego-cpp 1.x compares numbers inside
# arrays as text, so numeric ranks would not sort in policy order there.
package usepolicy.national_security_safeguards

import rego.v1

# `under`: the name itself, or any name below it on a dot boundary
under(name, prefix) if name == prefix

under(name, prefix) if startswith(name, concat("", [prefix, "."]))

denied(name) if data.lists.denied_entities[name]

domestic_subjects if input.data.subjects in {"domestic", "mixed"}

surveillance_or_law_enforcement if under(input.purpose, "surveillance")

surveillance_or_law_enforcement if under(input.purpose, "law_enforcement")

# ---- hard lines (deny) --------------------------------------------------------------

matched contains ["b00", "denied-entity", "deny"] if denied(input.requester.organization)

matched contains ["b00", "denied-entity", "deny"] if denied(input.requester.entity_id)

matched contains ["b01", "no-mass-domestic-surveillance", "deny"] if {
	domestic_subjects
	mass_collection
}

mass_collection if input.data.provenance in {"bulk", "commercial"}

mass_collection if input.data.subject_count > 1000

matched contains ["b02", "domestic-requires-legal-authority", "deny"] if {
	surveillance_or_law_enforcement
	domestic_subjects
	input.data.legal_authority == "none"
}

matched contains ["b03", "no-fully-autonomous-weapons", "deny"] if {
	input.autonomy.level == "fully_autonomous"
	weapons_or_lethal
}

weapons_or_lethal if under(input.purpose, "weapons")

weapons_or_lethal if input.autonomy.lethal == true

matched contains ["b04", "lethal-force-requires-human-in-the-loop", "deny"] if {
	engagement_or_lethal
	input.autonomy.level in {"human_on_the_loop", "fully_autonomous"}
}

engagement_or_lethal if input.purpose == "weapons.engagement"

engagement_or_lethal if input.autonomy.lethal == true

matched contains ["b05", "classified-requires-accredited-network", "deny"] if {
	input.environment.classification in {"secret", "top_secret"}
	input.environment.network == "internet"
}

# ---- lawful uses (allow) ------------------------------------------------------------

matched contains ["b06", "intelligence", "allow"] if under(input.purpose, "intelligence")

matched contains ["b07", "military-support", "allow"] if under(input.purpose, "military")

matched contains ["b08", "weapons-with-human-control", "allow"] if under(input.purpose, "weapons")

matched contains ["b09", "cyber", "allow"] if under(input.purpose, "cyber")

matched contains ["b10", "domestic-with-authority", "allow"] if {
	surveillance_or_law_enforcement
	input.data.provenance == "targeted"
	input.data.legal_authority in {"warrant", "court_order"}
}

matched contains ["b11", "general-use", "allow"] if under(input.purpose, "general")

# ---- combining: deny-overrides, default deny ----------------------------------------

ordered := sort(matched)

matched_rules := [item[1] | some item in ordered]

deny_hits := [item[1] | some item in ordered; item[2] == "deny"]

allow_hits := [item[1] | some item in ordered; item[2] == "allow"]

decision := {"decision": "deny", "determining_rule": deny_hits[0], "matched_rules": matched_rules} if {
	count(deny_hits) > 0
} else := {"decision": "allow", "determining_rule": allow_hits[0], "matched_rules": matched_rules} if {
	count(allow_hits) > 0
} else := {"decision": "deny", "determining_rule": null, "matched_rules": matched_rules}
