/** A start-up failure a person can fix (bad config, unreachable store/Redis, missing file): printed as one message, exit 2. */
export class StartupError extends Error {}
