import type { Database } from 'bun:sqlite';

/** The PaymentMethods made from test tokens: which token each id stands for. */
export function createPaymentMethodsTable(db: Database) {
  const insert = db.query('INSERT INTO payment_methods (id, token, created) VALUES ($id, $token, $created)');
  const select = db.query<{ token: string; created: number }, { id: string }>('SELECT token, created FROM payment_methods WHERE id = $id');
  return {
    insert(id: string, token: string, created: number): void {
      insert.run({ id, token, created });
    },
    get(id: string): { token: string; created: number } | undefined {
      return select.get({ id }) ?? undefined;
    },
  };
}

export type PaymentMethodsTable = ReturnType<typeof createPaymentMethodsTable>;
