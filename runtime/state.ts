/**
 * The states of one execution environment (sandbox), as Lambda's lifecycle describes them
 * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), and the only
 * transitions between them. Anything else is an IllegalTransition: a bug here, never a runtime's
 * misbehaviour (which the Runtime API answers with a 4xx and leaves the state as it was).
 *
 *   initializing --first /next--> ready --invocation--> invoking --response|error--> responded
 *        |                         ^                        |                           |
 *        |                         +------/next, extensions done (invocation complete)--+
 *        +---------------------------------+-------------------+------------------------+--> dead
 *   (exit, crash, kill, init error, timeout, out of memory; a dead sandbox never runs again)
 */
export type SandboxState = "initializing" | "ready" | "invoking" | "responded" | "dead";

const TRANSITIONS: Readonly<Record<SandboxState, readonly SandboxState[]>> = {
  initializing: ["ready", "dead"],
  ready: ["invoking", "dead"],
  invoking: ["responded", "dead"],
  responded: ["ready", "dead"],
  dead: [],
};

export class IllegalTransition extends Error {
  constructor(
    readonly from: SandboxState,
    readonly to: SandboxState,
  ) {
    super(`a sandbox cannot go from ${from} to ${to} (allowed: ${TRANSITIONS[from].join(", ") || "none"})`);
  }
}

/** The current state and its changes; listeners hear every change, in order. */
export class SandboxStateMachine {
  private current: SandboxState = "initializing";
  private readonly listeners: Array<(to: SandboxState, from: SandboxState) => void> = [];

  get state(): SandboxState {
    return this.current;
  }

  /** Whether `to` is allowed from the current state. */
  can(to: SandboxState): boolean {
    return TRANSITIONS[this.current].includes(to);
  }

  /** Moves to `to`; an IllegalTransition when the current state does not allow it. */
  to(to: SandboxState): void {
    if (!this.can(to)) throw new IllegalTransition(this.current, to);
    const from = this.current;
    this.current = to;
    for (const l of this.listeners) l(to, from);
  }

  /** Moves to dead from anywhere (dead is reachable from every live state); a second call does nothing. */
  kill(): void {
    if (this.current !== "dead") this.to("dead");
  }

  onChange(listener: (to: SandboxState, from: SandboxState) => void): void {
    this.listeners.push(listener);
  }
}
