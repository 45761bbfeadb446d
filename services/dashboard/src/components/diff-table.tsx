import { diffPaths, showValue } from "../diff.js";
import { Fragment } from "preact";
import { useVersionNames } from "./names.js";

/** A name that may wrap after its dots, dashes and underscores, where a reader would break it, in narrow comparison columns. */
export const Breakable = ({ text }: { text: string }) => (
  <>
    {text.split(/(?<=[.\-_])/).map((part, i) => (
      <Fragment key={i}>
        {i > 0 && <wbr />}
        {part}
      </Fragment>
    ))}
  </>
);

/**
 * Two JSON documents (mixture specs, recipes) side by side, one row per path whose value differs
 * (named elements matched by name, see diffPaths). `what` names the documents in the caption.
 * Dataset-version ids in values read as their names; long paths and values wrap so the table
 * stays within the page however wide the documents are.
 */
export function DiffTable({ what, a, b, nameA, nameB }: { what: string; a: unknown; b: unknown; nameA: string; nameB: string }) {
  const names = useVersionNames();
  const changes = diffPaths(a, b);
  if (changes.length === 0)
    return (
      <p class="note">
        {what}: {nameA} and {nameB} are identical.
      </p>
    );
  return (
    <table class="grid diff fit">
      <caption>
        {what}: {changes.length} {changes.length === 1 ? "difference" : "differences"} between {nameA} and {nameB}
      </caption>
      <thead>
        <tr>
          <th scope="col" class="path">Path</th>
          <th scope="col">
            <Breakable text={nameA} />
          </th>
          <th scope="col">
            <Breakable text={nameB} />
          </th>
        </tr>
      </thead>
      <tbody>
        {changes.map((c) => (
          <tr key={c.path} class="changed" data-kind={c.kind}>
            <th scope="row">
              <code>{c.path}</code>
            </th>
            <td>
              <code>{showValue(c.a, names)}</code>
            </td>
            <td>
              <code>{showValue(c.b, names)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
