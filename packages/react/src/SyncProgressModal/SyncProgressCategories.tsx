import { categoryBadges } from '@syncjob/core/client';
import { useSyncProgressModal } from './SyncProgressModalRoot';

/** One badge per category with its count; renders nothing when the job has no categories. */
export function SyncProgressCategories() {
  const { sync } = useSyncProgressModal();
  const badges = categoryBadges(sync.job);
  if (badges.length === 0) return null;
  return (
    <ul className="sj-categories" aria-label="Categories">
      {badges.map((badge) => (
        <li key={badge.category} className="sj-badge" data-category={badge.category}>
          {badge.category} <span className="sj-badge-count">{badge.countText}</span>
        </li>
      ))}
    </ul>
  );
}
