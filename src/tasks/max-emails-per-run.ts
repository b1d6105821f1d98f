// The most one sync run may fetch when a caller (CLI, API) sets it in place of the account's own setting
// (the form allows 1 to 1000). Its own module: `sync --direct` checks it without loading the task machinery.
export const MAX_EMAILS_PER_RUN = 100_000;
