// Progress as one line of text (task pages, CLI): phase · folder i of n · done of total.
export function progressText(progress: unknown): string {
  const p = (progress ?? {}) as {
    phase?: string;
    folder?: string;
    folderIndex?: number;
    folderCount?: number;
    done?: number;
    total?: number;
  };
  if (!p.phase) return '';
  const parts = [p.phase];
  if (p.folder) parts.push(`folder ${p.folderIndex ?? '?'} of ${p.folderCount ?? '?'} (${p.folder})`);
  if (p.total !== undefined) parts.push(`${p.done ?? 0} of ${p.total}`);
  return parts.join(' · ');
}
