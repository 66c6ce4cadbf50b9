import { Link } from "react-router";
import type { Item } from "../bindings/Item";
import { categoryLabel, valueText } from "../format";

/** One fact: when, what, its value, and how many holders reported it. */
export function ItemRow({ item }: { item: Item }) {
  const sources = item.sources.length;
  return (
    <Link to={`/record/item/${item.id}`} className="item-row" data-testid="record-row" data-id={item.id}>
      <span className="item-date">{item.date ?? "undated"}</span>
      <span className="item-main">
        <span className="item-display">{item.display ?? item.resource_type}</span>
        <span className="item-meta">
          {categoryLabel(item.category)}
          {" · "}
          {sources === 1 ? "1 holder" : `${sources} holders`}
          {item.conflict && (
            <span className="badge failed" title={`They differ on: ${item.differs.join(", ")}`}>
              Sources disagree
            </span>
          )}
        </span>
      </span>
      <span className="item-value">{valueText(item.value, item.unit)}</span>
    </Link>
  );
}
