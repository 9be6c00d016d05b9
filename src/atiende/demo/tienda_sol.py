"""Tienda Sol, the BPO's Spanish online shop: what it sells, where its customers live, what they write.

Customers and agents write the Spanish of Spain (``vosotros``, ``móvil``) and agents use ``tú``.
Pure data, long by nature: the texts are the module.
"""

from __future__ import annotations

from decimal import Decimal

from atiende.demo.catalog import BrandPlan, City, LiveCase, Product
from atiende.demo.content import Story, Topic, Voice

CITIES = (
    City("Madrid", "Madrid", 28001, 28055, ""),
    City("Barcelona", "Barcelona", 8001, 8042, ""),
    City("Valencia", "Valencia", 46001, 46026, ""),
    City("Sevilla", "Sevilla", 41001, 41020, ""),
    City("Málaga", "Málaga", 29001, 29018, ""),
    City("Bilbao", "Bizkaia", 48001, 48015, ""),
    City("Zaragoza", "Zaragoza", 50001, 50021, ""),
    City("Valladolid", "Valladolid", 47001, 47016, ""),
    City("A Coruña", "A Coruña", 15001, 15011, ""),
    City("Murcia", "Murcia", 30001, 30012, ""),
    City("Palma", "Illes Balears", 7001, 7015, ""),
    City("Granada", "Granada", 18001, 18015, ""),
)

PRODUCTS = (
    Product("TS-ZAP-014", "Zapatillas running Brisa", Decimal("64.90")),
    Product("TS-CAM-201", "Camiseta de lino Mar", Decimal("24.95")),
    Product("TS-VES-087", "Vestido midi Alba", Decimal("49.90")),
    Product("TS-VAQ-033", "Vaqueros slim Índigo", Decimal("39.95")),
    Product("TS-CHA-120", "Chaqueta impermeable Norte", Decimal("89.00")),
    Product("TS-HOG-310", "Juego de sábanas percal 150", Decimal("45.50")),
    Product("TS-HOG-415", "Lámpara de mesa Nube", Decimal("34.99")),
    Product("TS-ELE-502", "Freidora de aire 5 L", Decimal("79.99")),
    Product("TS-ELE-518", "Cafetera espresso Aroma", Decimal("129.00")),
    Product("TS-ELE-544", "Auriculares inalámbricos Eco", Decimal("59.90")),
    Product("TS-ACC-071", "Mochila urbana Viaje", Decimal("42.00")),
    Product("TS-HOG-377", "Set de sartenes Chef (3 piezas)", Decimal("54.95")),
    Product("TS-ELE-590", "Robot aspirador Limpio S2", Decimal("199.00")),
    Product("TS-ACC-095", "Reloj deportivo Pulso", Decimal("89.90")),
    Product("TS-HOG-302", "Toalla de baño de algodón orgánico", Decimal("14.90")),
)

VOICE = Voice(
    customer_email={
        "es": (
            "Hola:\n\n{core}\n\nGracias,\n{customer_full}",
            "Buenos días,\n\n{core}\n\nUn saludo,\n{customer_full}",
        ),
        "en": (
            "Hello,\n\n{core}\n\nThanks,\n{customer_full}",
            "Hi there,\n\n{core}\n\nKind regards,\n{customer_full}",
        ),
    },
    agent_email={
        "es": (
            "Hola, {customer}:\n\n{core}\n\nUn saludo,\n{agent}\nAtención al cliente · {brand}",
        ),
        "en": ("Hi {customer},\n\n{core}\n\nBest regards,\n{agent}\n{brand} Customer Care",),
    },
    agent_short={
        "es": ("Hola, {customer}. Soy {agent}. {core}", "{core}"),
        "en": ("Hi {customer}, this is {agent}. {core}", "{core}"),
    },
    phone_prefix={
        "es": ("Llamada entrante (transcripción): ",),
        "en": ("Inbound call (transcript): ",),
    },
    waiting={
        "es": (
            "Para seguir con la gestión necesitamos una foto del paquete y de la etiqueta de envío. ¿Nos la puedes enviar respondiendo a este mensaje?",
            "¿Nos confirmas la dirección de entrega completa y un teléfono de contacto? En cuanto la tengamos lo gestionamos.",
        ),
        "en": (
            "To move forward we need a photo of the parcel and its shipping label. Could you send it by replying to this message?",
            "Could you confirm your full delivery address and a contact phone number? We will sort it out as soon as we have it.",
        ),
    },
    on_hold={
        "es": (
            "Hemos abierto una incidencia con la empresa de transporte y te escribiremos en cuanto nos respondan, normalmente en 24-48 horas.",
        ),
        "en": (
            "We have opened a claim with the courier and will write to you as soon as they reply, usually within 24-48 hours.",
        ),
    },
    hold_notes=(
        "Incidencia abierta con Transportes Rápidos, ref. {tracking}. Revisar mañana.",
        "Pendiente de respuesta del almacén de Getafe sobre el stock.",
    ),
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        key="delivery",
        category="Entregas",
        team=1,
        tags=("entrega", "retraso"),
        weight=30,
        needs_order=True,
        late_orders=True,
        priority="normal",
        stories={
            "es": (
                Story(
                    subjects=("Mi pedido {order} no ha llegado", "¿Dónde está mi pedido?"),
                    opening="Hice el pedido {order} y la entrega estaba prevista para el {date}, pero todavía no ha llegado. El seguimiento no se actualiza desde hace días. ¿Podéis decirme qué pasa?",
                    reply="Sentimos mucho el retraso. He revisado el pedido {order}: el paquete está en la delegación de {city} y saldrá a reparto en las próximas 24 horas. El número de seguimiento es {tracking}.",
                    follow_up="Hoy tampoco ha llegado. ¿Me podéis dar una solución?",
                    closing="El transportista confirma la entrega del pedido {order}. Como compensación por el retraso te hemos aplicado un cupón de 5 € para tu próxima compra. ¡Gracias por tu paciencia!",
                ),
                Story(
                    subjects=(
                        "Pedido {order} con retraso",
                        "Necesito mi pedido antes del fin de semana",
                    ),
                    opening="El pedido {order} ({product}) tenía que llegar el {date} y sigo esperando. Lo necesito para este fin de semana.",
                    reply="Disculpa las molestias. El transportista nos confirma que tu pedido {order} tuvo una incidencia en el centro de distribución; ya está en ruta y debería llegarte mañana.",
                    follow_up="Vale, gracias. ¿Me avisáis si hay algún cambio?",
                    closing="Tu pedido {order} ya figura como entregado. Si hubiera cualquier problema con el contenido, responde a este mensaje.",
                ),
            ),
            "en": (
                Story(
                    subjects=("My order {order} has not arrived", "Where is my order?"),
                    opening="I placed order {order} and it was due on {date}, but it still hasn't arrived. The tracking hasn't changed for days. Can you tell me what is going on?",
                    reply="We're very sorry for the delay. I checked order {order}: the parcel is at the {city} depot and will go out for delivery within 24 hours. Your tracking number is {tracking}.",
                    follow_up="It didn't arrive today either. Can you sort this out?",
                    closing="The courier confirms order {order} has been delivered. To make up for the delay we've added a €5 voucher to your account. Thank you for your patience!",
                ),
                Story(
                    subjects=("Order {order} is late",),
                    opening="Order {order} ({product}) should have arrived on {date} and I'm still waiting. I need it for this weekend.",
                    reply="Apologies for the trouble. The courier confirms that order {order} was held up at the sorting centre; it is on its way again and should reach you tomorrow.",
                    follow_up="OK, thanks. Will you let me know if anything changes?",
                    closing="Order {order} now shows as delivered. If anything is wrong with the contents, just reply to this message.",
                ),
            ),
        },
        notes=(
            "Retraso de {days} días respecto a la fecha prometida. Aplicado cupón de cortesía.",
            "Reclamado al transportista, ref. {tracking}.",
        ),
    ),
    Topic(
        key="return",
        category="Devoluciones",
        team=1,
        tags=("devolucion",),
        weight=20,
        needs_order=True,
        priority="normal",
        stories={
            "es": (
                Story(
                    subjects=("Quiero devolver {product}", "Devolución del pedido {order}"),
                    opening="Quiero devolver {product} del pedido {order} porque la talla no me queda bien. ¿Cómo lo hago?",
                    reply="¡Claro! Tienes 30 días para devolverlo. Te hemos enviado por correo una etiqueta de devolución gratuita; solo tienes que pegarla en el paquete y dejarlo en cualquier punto de recogida.",
                    follow_up="Ya lo he dejado en el punto de recogida. ¿Cuándo recibiré el dinero?",
                    closing="Hemos recibido la devolución en el almacén. El reembolso de {amount} se hará en tu método de pago en 3-5 días laborables.",
                ),
                Story(
                    subjects=("¿Puedo devolver un producto abierto?",),
                    opening="He recibido {product} pero no es lo que esperaba. ¿Puedo devolverlo aunque haya abierto la caja?",
                    reply="Sin problema: puedes devolverlo aunque lo hayas abierto, siempre que esté completo. He generado la devolución del pedido {order} y te llegará la etiqueta en unos minutos.",
                    follow_up="No me ha llegado la etiqueta, ¿me la podéis reenviar?",
                    closing="Te la hemos reenviado y la devolución ya está en nuestro almacén. Hemos emitido el reembolso de {amount}; lo verás en 3-5 días laborables.",
                ),
            ),
            "en": (
                Story(
                    subjects=("I want to return {product}", "Return for order {order}"),
                    opening="I'd like to return {product} from order {order}; the size doesn't fit. How do I do it?",
                    reply="Of course! You have 30 days to return it. We've emailed you a free return label; just stick it on the parcel and drop it at any pick-up point.",
                    follow_up="I've dropped it at the pick-up point. When will I get my money back?",
                    closing="Your return has arrived at our warehouse. The refund of {amount} will reach your payment method within 3-5 working days.",
                ),
                Story(
                    subjects=("Can I return an opened item?",),
                    opening="I received {product} but it isn't what I expected. Can I still return it if I opened the box?",
                    reply="No problem: you can return it even if opened, as long as it's complete. I've created the return for order {order} and the label will reach you in a few minutes.",
                    follow_up="I haven't received the label, could you resend it?",
                    closing="We resent it and your return is now at our warehouse. We've issued the refund of {amount}; you'll see it within 3-5 working days.",
                ),
            ),
        },
        notes=(
            "Etiqueta de devolución generada manualmente: el formulario web falló.",
            "Devolución dentro de plazo, artículo sin usar.",
        ),
    ),
    Topic(
        key="refund",
        category="Reembolsos",
        team=0,
        tags=("reembolso",),
        weight=15,
        needs_order=True,
        priority="normal",
        stories={
            "es": (
                Story(
                    subjects=(
                        "¿Cuándo recibiré el reembolso del pedido {order}?",
                        "Reembolso pendiente",
                    ),
                    opening="Devolví el pedido {order} hace dos semanas y todavía no he recibido el reembolso de {amount}. ¿Podéis revisarlo?",
                    reply="He comprobado que el reembolso de {amount} se emitió ayer. Según tu banco, puede tardar hasta 5 días laborables en aparecer.",
                    follow_up="Sigue sin aparecer en mi cuenta. ¿Me podéis mandar el justificante?",
                    closing="Te adjuntamos el justificante del reembolso de {amount}. Si no lo ves en tu cuenta en 5 días, escríbenos y lo revisamos con el banco.",
                ),
                Story(
                    subjects=("Pedido cancelado y cobrado", "No me han devuelto el dinero"),
                    opening="Me cancelasteis el pedido {order} por falta de stock, pero el cargo de {amount} sigue en mi cuenta.",
                    reply="Tienes toda la razón: el reembolso se quedó bloqueado. Lo he lanzado de nuevo hoy y te llegará en 3-5 días laborables.",
                    follow_up="Perfecto, quedo a la espera.",
                    closing="Nos confirman que el reembolso de {amount} ya está procesado. ¡Disculpa las molestias!",
                ),
            ),
            "en": (
                Story(
                    subjects=(
                        "When will I get the refund for order {order}?",
                        "Refund still pending",
                    ),
                    opening="I returned order {order} two weeks ago and still haven't received the refund of {amount}. Could you look into it?",
                    reply="I've checked and the refund of {amount} was issued yesterday. Depending on your bank it can take up to 5 working days to show.",
                    follow_up="It's still not in my account. Could you send me proof of the refund?",
                    closing="Here is the proof of your refund of {amount}. If you don't see it within 5 days, let us know and we'll check with the bank.",
                ),
                Story(
                    subjects=("Cancelled order but I was charged",),
                    opening="You cancelled order {order} because it was out of stock, but the charge of {amount} is still on my account.",
                    reply="You're quite right: the refund got stuck. I've reissued it today and it should reach you within 3-5 working days.",
                    follow_up="Great, I'll keep an eye out.",
                    closing="We've had confirmation that the refund of {amount} has been processed. Sorry for the trouble!",
                ),
            ),
        },
        notes=(
            "Reembolso relanzado desde el backoffice, la pasarela devolvió error 502.",
            "Cliente molesto, segunda vez que escribe.",
        ),
    ),
    Topic(
        key="wrong_item",
        category="Artículo equivocado",
        team=1,
        tags=("error-almacen",),
        weight=12,
        needs_order=True,
        priority="high",
        stories={
            "es": (
                Story(
                    subjects=("He recibido un artículo que no pedí", "Error en el pedido {order}"),
                    opening="En el pedido {order} pedí {product} y me ha llegado otra cosa completamente distinta. Os adjunto foto.",
                    reply="¡Vaya! Lo sentimos mucho, ha sido un error de nuestro almacén. Te enviamos hoy mismo el artículo correcto por envío urgente y un mensajero recogerá el otro sin coste.",
                    follow_up="Gracias. ¿El mensajero vendrá por la mañana o por la tarde?",
                    closing="El artículo correcto ya está entregado y la recogida confirmada. ¡Disculpa de nuevo las molestias!",
                ),
                Story(
                    subjects=("Me ha llegado otra talla",),
                    opening="Me ha llegado {product} en otra talla y color. Lo necesitaba para un regalo, ¿qué hacemos?",
                    reply="Lo sentimos mucho, ha sido un error de nuestro almacén. Te enviamos hoy el artículo correcto por envío urgente y un mensajero recogerá el otro sin coste.",
                    follow_up="¿Llegará antes del sábado? Es para un cumpleaños.",
                    closing="El envío urgente ya está entregado y la recogida del otro artículo confirmada. ¡Que disfrutéis del cumpleaños!",
                ),
            ),
            "en": (
                Story(
                    subjects=("I received the wrong item", "Mistake in order {order}"),
                    opening="In order {order} I ordered {product} and received something completely different. Photo attached.",
                    reply="Oh no, we're sorry: that was a mistake at our warehouse. We're sending the right item today by express delivery and a courier will collect the other one at no cost.",
                    follow_up="Thanks. Will the courier come in the morning or the afternoon?",
                    closing="The right item has been delivered and the collection is confirmed. Sorry again for the trouble!",
                ),
                Story(
                    subjects=("Wrong size delivered",),
                    opening="{product} arrived in the wrong size and colour. It was meant to be a gift, what can we do?",
                    reply="We're very sorry, that was a warehouse mistake. We're sending the right item today by express delivery and a courier will collect the other one at no cost.",
                    follow_up="Will it arrive before Saturday? It's for a birthday.",
                    closing="The express parcel has been delivered and the collection is confirmed. Enjoy the birthday!",
                ),
            ),
        },
        notes=(
            "Error de picking, avisado el jefe de turno del almacén.",
            "Reenvío urgente sin coste autorizado por supervisión.",
        ),
    ),
    Topic(
        key="payment",
        category="Pagos",
        team=0,
        tags=("pago",),
        weight=12,
        needs_order=False,
        priority="high",
        stories={
            "es": (
                Story(
                    subjects=("Cobro duplicado en mi tarjeta",),
                    opening="Me habéis cobrado dos veces la misma compra de {amount}. Adjunto captura del extracto del banco.",
                    reply="Gracias por avisar. El segundo cargo es una preautorización que el banco libera automáticamente en unos días; no se ha llegado a cobrar.",
                    follow_up="Han pasado 4 días y el cargo sigue ahí.",
                    closing="Hemos anulado el cargo duplicado de {amount}; verás la devolución en tu cuenta en un máximo de 5 días.",
                ),
                Story(
                    subjects=("No puedo pagar con tarjeta", "Error al pagar"),
                    opening="Al pagar me sale un error y no me deja terminar la compra, pero en el banco me aparece un cargo de {amount}.",
                    reply="He revisado tu cuenta: el pago quedó retenido por la verificación de seguridad del banco. Ese cargo se liberará solo; si lo intentas de nuevo debería funcionar.",
                    follow_up="Ya he podido pagar, gracias.",
                    closing="¡Genial! Tu pedido ya está confirmado y el cargo retenido se liberará en unos días.",
                ),
            ),
            "en": (
                Story(
                    subjects=("I was charged twice",),
                    opening="I've been charged twice for the same purchase of {amount}. Screenshot of my bank statement attached.",
                    reply="Thanks for letting us know. The second charge is a pre-authorisation your bank releases automatically within a few days; you haven't actually been charged.",
                    follow_up="It's been 4 days and the charge is still there.",
                    closing="We've cancelled the duplicate charge of {amount}; you'll see it back in your account within 5 days.",
                ),
                Story(
                    subjects=("My card payment keeps failing", "Payment error at checkout"),
                    opening="I get an error when paying and can't finish my order, but my bank shows a charge of {amount}.",
                    reply="I've checked your account: the payment was held by your bank's security check. That charge will be released on its own; if you try again it should go through.",
                    follow_up="It worked this time, thanks.",
                    closing="Great! Your order is confirmed and the held charge will be released within a few days.",
                ),
            ),
        },
        notes=(
            "Doble cargo confirmado en la pasarela, solicitada anulación.",
            "Preautorización, no requiere acción.",
        ),
    ),
    Topic(
        key="product",
        category="Información de producto",
        team=0,
        tags=("consulta",),
        weight=11,
        needs_order=False,
        priority="low",
        stories={
            "es": (
                Story(
                    subjects=("¿Tenéis {product} en stock?",),
                    opening="¿Cuándo volveréis a tener {product}? En la web aparece agotado.",
                    reply="Esperamos reposición de {product} la semana que viene. Si quieres, te avisamos por correo en cuanto esté disponible.",
                    follow_up="Sí, avisadme por favor.",
                    closing="¡Hecho! Te hemos apuntado al aviso de disponibilidad de {product}.",
                ),
                Story(
                    subjects=("Consulta sobre {product}", "Garantía de {product}"),
                    opening="¿{product} tiene garantía? ¿Y el manual viene en español?",
                    reply="Sí: tiene tres años de garantía legal y el manual viene en español, inglés y portugués.",
                    follow_up="Perfecto. Si lo compro hoy, ¿cuándo me llega?",
                    closing="Los pedidos hechos antes de las 14:00 salen el mismo día y llegan en 24-48 horas laborables.",
                ),
            ),
            "en": (
                Story(
                    subjects=("Is {product} in stock?",),
                    opening="When will {product} be back in stock? The website says it's sold out.",
                    reply="We expect {product} back in stock next week. We can email you as soon as it's available if you like.",
                    follow_up="Yes please, let me know.",
                    closing="Done! You're on the back-in-stock list for {product}.",
                ),
                Story(
                    subjects=("Question about {product}",),
                    opening="Does {product} come with a warranty? Is there an English manual?",
                    reply="Yes: it has a three-year legal warranty and the manual is in Spanish, English and Portuguese.",
                    follow_up="Perfect. If I order today, when will it arrive?",
                    closing="Orders placed before 2 p.m. ship the same day and arrive within 24-48 working hours.",
                ),
            ),
        },
        notes=("Consultado con compras: reposición prevista el día 15.",),
    ),
)

LIVE_CASES = (
    LiveCase(
        "¿Hacéis envíos a Canarias?",
        "Quiero comprar unas zapatillas pero no sé si enviáis a Tenerife ni cuánto cuesta.",
        "Entregas",
        "¡Hola! Sí, enviamos a Canarias. Te lo confirmo en un momento con el coste exacto.",
    ),
    LiveCase(
        "Pedido urgente para mañana",
        "¿Si pido ahora la cafetera Aroma me llega mañana a Madrid? Es para un regalo.",
        "Entregas",
        "Déjame comprobarlo con el almacén y te digo enseguida si llega mañana.",
    ),
    LiveCase(
        "Cupón que no funciona",
        "El cupón VERANO10 me dice que no es válido y en el correo pone que caduca el domingo.",
        "Pagos",
        "¡Hola! Lo reviso ahora: a veces el cupón solo vale a partir de 30 €. Te digo algo en un momento.",
    ),
)

PLAN = BrandPlan(
    slug="tienda-sol",
    name="Tienda Sol",
    prefix="SOL",
    country="ES",
    time_zone="Europe/Madrid",
    locale="es_ES",
    currency="EUR",
    customers=320,
    conversations=1300,
    ordering_share=0.85,
    order_prefix="TS",
    teams=("Atención al cliente", "Logística y devoluciones"),
    product_skills=(("moda", "Moda"), ("hogar", "Hogar"), ("electronica", "Electrónica")),
    organizations=6,
    cities=CITIES,
    products=PRODUCTS,
    topics=TOPICS,
    voice=VOICE,
    live_cases=LIVE_CASES,
    live_follow_up="Vale, gracias. Quedo a la espera.",
)
