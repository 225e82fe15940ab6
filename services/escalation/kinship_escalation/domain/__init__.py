"""Pure domain: observations, detection rules, cases, policies. No I/O."""
