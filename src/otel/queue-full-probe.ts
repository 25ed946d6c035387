/**
 * QueueFullProbe: tells, exactly and at the moment it happens, that the SDK's
 * BatchLogRecordProcessor refused a record because its queue was full.
 *
 * The batch processor drops the newest record without a trace, but it reports
 * the drop through its self-observability metrics, synchronously, inside the
 * `onEmit` call that dropped it: `otel.sdk.processor.log.processed` gets
 * `add(1, { 'error.type': 'queue_full', ... })` (both SDK lines, see
 * LogRecordProcessorMetrics). Given as the processor's `selfObsMeterProvider`,
 * this probe counts those calls, so a caller comparing `refused` before and
 * after its `inner.onEmit(record)` knows whether that very record was
 * dropped, and can keep it. The processor also registers an observable for its
 * queue size, which gives the exact depth on demand.
 *
 * Every other instrument the processor asks for is a no-op: the probe records
 * nothing and exports nothing.
 */
import { createNoopMeter, type Attributes, type Meter, type MeterProvider, type ObservableCallback } from '@opentelemetry/api';

/** The processor's metric and attribute names (OTel semantic conventions for SDK self-observability). */
const PROCESSED_METRIC = 'otel.sdk.processor.log.processed';
const QUEUE_SIZE_METRIC = 'otel.sdk.processor.log.queue.size';
const ERROR_TYPE = 'error.type';
const QUEUE_FULL = 'queue_full';

export class QueueFullProbe implements MeterProvider {
  /** Records the processor refused because its queue was full, since the probe was created. */
  refused = 0;
  private readonly sizeCallbacks = new Set<ObservableCallback>();
  private readonly meter: Meter;
  /** Whether the processor took the probe (it asked for its processed-records counter). */
  private attached = false;

  constructor() {
    const noop = createNoopMeter();
    const counterFor = (name: string) => {
      if (name !== PROCESSED_METRIC) return noop.createCounter(name);
      this.attached = true;
      return {
        add: (value: number, attributes?: Attributes) => {
          if (attributes?.[ERROR_TYPE] === QUEUE_FULL) this.refused += value;
        },
      };
    };
    const observableFor = (name: string) => {
      if (name !== QUEUE_SIZE_METRIC) return noop.createObservableUpDownCounter(name);
      return {
        addCallback: (cb: ObservableCallback) => void this.sizeCallbacks.add(cb),
        removeCallback: (cb: ObservableCallback) => void this.sizeCallbacks.delete(cb),
      };
    };
    this.meter = Object.assign(Object.create(noop) as Meter, {
      createCounter: counterFor,
      createObservableUpDownCounter: observableFor,
    });
  }

  getMeter(): Meter {
    return this.meter;
  }

  /** True once a batch processor wired its drop counter to this probe (an SDK without self-observability never does). */
  get isAttached(): boolean {
    return this.attached;
  }

  /** The processor's queue length right now, or undefined when it registered no queue-size observable. */
  queueSize(): number | undefined {
    let size: number | undefined;
    for (const cb of this.sizeCallbacks) {
      void cb({
        observe: (value: number) => {
          size = (size ?? 0) + value;
        },
      });
    }
    return size;
  }
}
