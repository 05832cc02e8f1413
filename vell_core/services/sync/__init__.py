"""Live sync of a customer's Marketplace data through delegated credentials, first screen first.

One :class:`SyncJob` per (staff member, delegation) holds what has been fetched so far; it is
kept in this service's memory only (never ``st.cache_data``: customer data must not go into a
cache shared by every user) and is dropped when the delegated credentials expire.

How a job runs:

1. **First screen**: ``ListEntities`` for each product type (the products table needs only the
   summaries). Nothing else is queued until this is done, so it is never slowed by other calls.
2. **Details, streamed**: offers (``ListEntities`` then ``BatchDescribeEntities`` in batches of
   20), products (``BatchDescribeEntities``), change sets (``ListChangeSets``), agreements
   (``SearchAgreements`` then ``DescribeAgreement`` + ``GetAgreementTerms`` each, active
   agreements ending soonest first). Every list is paginated until ``NextToken`` runs out, with
   guards against runaway page counts (botocore refuses a repeated token).
3. **Bounded concurrency**: a small ``ThreadPoolExecutor`` drains one priority queue; each call
   first takes a token from the customer account's bucket for that operation
   (:class:`AccountLimits`, at the documented per-account quotas), so the job stays under AWS's
   limits instead of relying on throttling. botocore's standard retries handle a stray
   ``ThrottlingException``; if one still gets through, the bucket slows down and the task waits
   and tries again.
4. **On demand**: opening a product, offer or agreement fetches it at once in the caller's
   thread with top priority on the buckets, ahead of the background queue.

Every call is audited with the screen it served (``audit.on_screen``): the background sync's
calls with the listings the rep opened, an on-demand fetch with the product, offer, agreement or
change set opened. That is what the customer's access record groups by.

Pages poll :meth:`SyncService.state` from an ``st.fragment(run_every=…)`` for progress.
"""
