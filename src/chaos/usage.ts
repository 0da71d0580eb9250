/** `pilotfish chaos`'s usage text, apart so the CLI can print it without loading the runner. */
export const CHAOS_USAGE = `usage: pilotfish chaos SUITE... [--junit FILE] [--json FILE]
        run chaos suites (chaos/*.yaml): start the environment, check the steady state, inject
        faults under load, check the hypotheses; print a table, optionally write JUnit XML and the
        JSON journal. Exit 1 if a hypothesis fails, 2 if a suite is invalid or cannot start.
`;
