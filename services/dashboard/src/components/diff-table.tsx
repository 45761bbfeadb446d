import { diffPaths, showValue } from "../diff.js";

/**
 * Two JSON documents (mixture specs, recipes) side by side, one row per path whose value differs
 * (named elements matched by name, see diffPaths). `what` names the documents in the caption.
 */
export function DiffTable({ what, a, b, nameA, nameB }: { what: string; a: unknown; b: unknown; nameA: string; nameB: string }) {
  const changes = diffPaths(a, b);
  if (changes.length === 0)
    return (
      <p class="note">
        {what}: {nameA} and {nameB} are identical.
      </p>
    );
  return (
    <table class="grid diff">
      <caption>
        {what}: {changes.length} {changes.length === 1 ? "difference" : "differences"} between {nameA} and {nameB}
      </caption>
      <thead>
        <tr>
          <th scope="col">Path</th>
          <th scope="col">{nameA}</th>
          <th scope="col">{nameB}</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((c) => (
          <tr key={c.path} class="changed" data-kind={c.kind}>
            <th scope="row">
              <code>{c.path}</code>
            </th>
            <td>
              <code>{showValue(c.a)}</code>
            </td>
            <td>
              <code>{showValue(c.b)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
