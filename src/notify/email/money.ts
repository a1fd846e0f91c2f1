/**
 * Minor units as a customer reads them, in one currency: 2875 cents in `usd` is "$28.75". Built once per
 * currency: making an Intl.NumberFormat costs about 80 µs in Bun, formatting with one about 1 µs.
 */
export function moneyFormat(currency: string): (cents: number) => string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
  return (cents) => format.format(cents / 100);
}
