/** Base class of every error this package throws on purpose. */
export class GuardAgentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** One problem with one field: `field` is the camelCase path, e.g. `breaker.failureThreshold`. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** A model constructor or `validate*` helper refused a value; `field` names it. */
export class GuardAgentValidationError extends GuardAgentError {
  readonly field: string;
  readonly problems: FieldProblem[];
  constructor(problems: FieldProblem[] | FieldProblem, what = 'value') {
    const list = Array.isArray(problems) ? problems : [problems];
    super(`Invalid ${what}: ` + list.map((p) => `${p.field}: ${p.message}`).join('; '));
    this.problems = list;
    this.field = list[0]?.field ?? '';
  }
}

/** `AgentConfig` was invalid; lists every problem at once, each naming its field. */
export class GuardAgentConfigError extends GuardAgentValidationError {
  constructor(problems: FieldProblem[]) {
    super(problems, 'agent configuration');
  }
}

/** The encryption key failed to decode or failed the startup round trip; there is no plaintext fallback. */
export class EncryptionConfigError extends GuardAgentError {}

/** `EventBuffer.addEvent`/`addMetric` under the `raise` policy when the buffer is full. */
export class BufferFullError extends GuardAgentError {}
