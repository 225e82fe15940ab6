"""Pure domain: observations, detection rules, cases, policies, timers. No I/O."""
