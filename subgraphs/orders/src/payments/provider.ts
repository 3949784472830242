/**
 * What the orders subgraph needs from a payment provider. A real provider (Stripe, Adyen, ...) is
 * one file implementing this; `PAYMENT_PROVIDER` picks it. Every call carries our idempotency key,
 * so a capture retried after a timeout or a crash is never a second charge, and `lookup` tells us
 * what became of a capture whose answer we never saw (docs/decisions/0009).
 */
export interface PaymentProvider {
  readonly name: string;
  capture(request: CaptureRequest): Promise<CaptureResult>;
  /**
   * What became of the capture under this key. If the provider has none, it makes sure none can
   * ever succeed later (Stripe: cancel the PaymentIntent) and answers null: after this call, an
   * unknown outcome is settled for good either way.
   */
  resolve(idempotencyKey: string): Promise<CaptureResult | null>;
  /** Gives a captured payment back in full; repeatable under the same (refund's own) key. */
  refund(request: { idempotencyKey: string; reference: string }): Promise<void>;
}

export interface CaptureRequest {
  idempotencyKey: string;
  /** Exact decimal string, e.g. "19.99". */
  amount: string;
  currency: string;
  /** The payment method as the client sent it: for the test provider, a test card number. */
  source: PaymentSource;
}

export interface PaymentSource {
  cardNumber: string;
}

export type CaptureResult =
  | { status: "CAPTURED"; reference: string }
  | { status: "DECLINED"; reference: string; declineCode: string };

/** The provider could not be reached or did not answer; the capture's outcome is unknown. */
export class PaymentProviderUnavailable extends Error {}
