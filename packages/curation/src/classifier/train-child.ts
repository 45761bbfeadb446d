/**
 * Child process entry of trainClassifierInChild: trains one classifier from the examples and
 * config it receives over IPC and sends back the result (or the error), then exits.
 */
import { trainClassifier, type Example, type TrainConfig } from "./model.js";

process.once("message", (msg: { examples: Example[]; config: TrainConfig }) => {
  trainClassifier(msg.examples, msg.config).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: Error & { field?: string }) => {
      // ValidationError prefixes its message with the field; send them apart to rebuild it as is.
      const message = err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
      process.send!({ ok: false, name: err.name, message, field: err.field }, () => process.exit(0));
    },
  );
});
